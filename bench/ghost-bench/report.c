/*
 * bench/ghost-bench/report.c - the run's output: the table (with the baselines of the
 * ratios and the notes), the JSON list (one object per row), and the SVG plot of the rpc
 * benchmark's p99 against offered load.
 *
 * Reads the rows, changes none. The JSON keys and the table's columns are what
 * tests/test_bench.c and docs/performance.md rely on.
 */
#include "bench.h"
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ---- the plot: p99 against offered load, log scale, a line per scheduler ---- */

static const char *const plot_colors[] = { "#222222", "#888888", "#1f77b4", "#ff7f0e", "#d62728" };

static double plot_y(double us, double lo, double hi, double top, double height)
{
	double f = (log10(us) - log10(lo)) / (log10(hi) - log10(lo));

	return top + height - f * height;
}

/* The row of scheduler c at load i, if it has a p99 to plot. */
static const struct row *plotted(struct bench *b, int c, int i, bool antag)
{
	char name[64];
	const struct row *r;

	snprintf(name, sizeof(name), "rpc_%d_%s%s", b->opt.loads[i], macro_cfgs[c].name,
		 antag ? "_antagonist" : "");
	r = row_find(b, name);
	return r && !r->failed && r->p99 > 0 ? r : NULL;
}

static void plot_panel(struct bench *b, FILE *f, double x0, double y0, double w, double h,
		       bool antag, double lo, double hi, int max_load)
{
	const struct bench_opts *o = &b->opt;
	double left = x0 + 60, top = y0 + 30, pw = w - 80, ph = h - 80;

	fprintf(f,
		"<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n",
		x0 + w / 2, y0 + 18, antag ? "with a low-priority antagonist" : "no antagonist");
	fprintf(f,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
		"stroke=\"#000\"/>\n",
		left, top, pw, ph);
	for (double d = lo; d <= hi * 1.0001; d *= 10) {
		double y = plot_y(d, lo, hi, top, ph);

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
			left, y, left + pw, y);
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
			left - 5, y + 4,
			d >= 1000  ? (d >= 10000 ? (d >= 100000 ? "100 ms" : "10 ms") : "1 ms")
			: d >= 100 ? "100 us"
			: d >= 10  ? "10 us"
				   : "1 us");
	}
	/* The saturation threshold of the target: p99 of 1 ms. */
	fprintf(f,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
		"stroke-dasharray=\"4 3\"/>\n",
		left, plot_y(1000, lo, hi, top, ph), left + pw, plot_y(1000, lo, hi, top, ph));
	for (int i = 0; i < o->nloads; i++) {
		double x = left + pw * o->loads[i] / max_load;

		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n",
			x, top + ph + 16, o->loads[i]);
	}
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">offered load "
		"(requests/s)</text>\n",
		left + pw / 2, top + ph + 36);
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
		"transform=\"rotate(-90 %.1f %.1f)\">p99 latency</text>\n",
		x0 + 14, top + ph / 2, x0 + 14, top + ph / 2);
	for (int c = 0; c < n_macro_cfgs; c++) {
		bool first = true;

		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
			plot_colors[c],
			macro_cfgs[c].worker_cpus ? " stroke-dasharray=\"6 3\"" : "");
		for (int i = 0; i < o->nloads; i++) {
			const struct row *r = plotted(b, c, i, antag);

			if (!r)
				continue;
			fprintf(f, "%s%.1f,%.1f", first ? "" : " ",
				left + pw * o->loads[i] / max_load,
				plot_y(fmin(fmax(r->p99 / 1e3, lo), hi), lo, hi, top, ph));
			first = false;
		}
		fprintf(f, "\"/>\n");
		for (int i = 0; i < o->nloads; i++) {
			const struct row *r = plotted(b, c, i, antag);

			if (!r)
				continue;
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
				left + pw * o->loads[i] / max_load,
				plot_y(fmin(fmax(r->p99 / 1e3, lo), hi), lo, hi, top, ph),
				plot_colors[c]);
		}
	}
}

void write_svg(struct bench *b, const char *path)
{
	const struct bench_opts *o = &b->opt;
	double lo = 10, hi = 100000; /* us */
	int max_load = 0;
	FILE *f;

	if (!o->nloads)
		return;
	for (int i = 0; i < o->nloads; i++)
		if (o->loads[i] > max_load)
			max_load = o->loads[i];
	max_load = max_load * 11 / 10;
	f = fopen(path, "w");
	if (!f)
		tool_fatal("cannot write %s: %s", path, strerror(errno));
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"420\" "
		"font-family=\"sans-serif\">\n<rect width=\"960\" height=\"420\" fill=\"#fff\"/>\n");
	plot_panel(b, f, 0, 0, 480, 380, false, lo, hi, max_load);
	if (o->antagonist)
		plot_panel(b, f, 480, 0, 480, 380, true, lo, hi, max_load);
	for (int c = 0; c < n_macro_cfgs; c++) {
		double x = 70 + c * 170;

		fprintf(f,
			"<line x1=\"%.0f\" y1=\"400\" x2=\"%.0f\" y2=\"400\" stroke=\"%s\" "
			"stroke-width=\"3\"%s/>\n",
			x, x + 24, plot_colors[c],
			macro_cfgs[c].worker_cpus ? " stroke-dasharray=\"6 3\"" : "");
		fprintf(f, "<text x=\"%.0f\" y=\"404\" font-size=\"12\">%s</text>\n", x + 30,
			macro_cfgs[c].name);
	}
	fprintf(f, "</svg>\n");
	if (fclose(f))
		tool_fatal("cannot write %s: %s", path, strerror(errno));
}

/* ---- JSON ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_num_or_null(double x, int decimals)
{
	if (isnan(x) || isinf(x))
		printf("null");
	else
		printf("%.*f", decimals, x);
}

void print_json(struct bench *b)
{
	printf("[\n");
	for (int i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];
		const struct row *base = r->base[0] ? row_find(b, r->base) : NULL;
		int met = row_met(b, r);

		printf("  {\"name\":");
		json_str(r->name);
		printf(",\"label\":");
		json_str(r->label);
		printf(",\"median_ns\":");
		json_num_or_null(r->timed ? r->med : NAN, 1);
		printf(",\"p99_ns\":");
		json_num_or_null(r->timed ? r->p99 : NAN, 1);
		printf(",\"min_ns\":");
		json_num_or_null(r->timed ? r->min : NAN, 1);
		printf(",\"samples\":%zu,\"baseline\":", r->n);
		if (base)
			json_str(base->name);
		else
			printf("null");
		printf(",\"baseline_ns\":");
		json_num_or_null(base ? base->med : NAN, 1);
		printf(",\"ratio\":");
		json_num_or_null(row_ratio(b, r), 3);
		printf(",\"p99_ratio\":");
		json_num_or_null(base && r->timed && base->p99 > 0 ? r->p99 / base->p99 : NAN, 3);
		printf(",\"target\":");
		json_num_or_null(r->target, 2);
		printf(",\"target_on\":");
		if (isnan(r->target))
			printf("null");
		else
			json_str(r->target_on);
		printf(",\"met\":%s", met < 0 ? "null" : met ? "true" : "false");
		printf(",\"value\":");
		json_num_or_null(r->value, 1);
		printf(",\"unit\":");
		if (r->unit)
			json_str(r->unit);
		else
			printf("\"ns\"");
		if (r->macro) {
			printf(",\"config\":");
			json_str(r->macro->name);
			printf(",\"offered_rps\":");
			json_num_or_null(r->offered, 0);
			printf(",\"throughput_rps\":");
			json_num_or_null(r->thr, 1);
			printf(",\"p999_ns\":");
			json_num_or_null(r->p999, 1);
			printf(",\"antagonist\":%s,\"antagonist_cpus\":",
			       r->antagonist ? "true" : "false");
			json_num_or_null(r->antag_cpus, 3);
		}
		if (r->headline) {
			printf(",\"offered_rps\":");
			json_num_or_null(r->offered, 0);
			printf(",\"antagonist\":%s,\"below_saturation\":%s",
			       r->antagonist ? "true" : "false",
			       r->below_saturation ? "true" : "false");
		}
		printf(",\"failed\":%s,\"note\":", r->failed ? "true" : "false");
		json_str(r->note);
		printf("}%s\n", i + 1 < b->nrows ? "," : "");
	}
	printf("]\n");
}

/* ---- the table ---- */

static void fmt_ns(char *buf, size_t len, double ns)
{
	if (isnan(ns))
		snprintf(buf, len, "-");
	else if (ns < 1000)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else
		snprintf(buf, len, "%.2f ms", ns / 1e6);
}

static void fmt_value(char *buf, size_t len, const struct row *r)
{
	if (isnan(r->value))
		snprintf(buf, len, "-");
	else if (r->unit && !strcmp(r->unit, "bytes") && r->value >= 10 * 1024)
		snprintf(buf, len, "%.1f KiB", r->value / 1024);
	else if (r->unit && !strcmp(r->unit, "bytes"))
		snprintf(buf, len, "%.0f B", r->value);
	else if (r->unit && !strcmp(r->unit, "txn/s"))
		snprintf(buf, len, "%.0f txn/s", r->value);
	else if (r->unit && !strcmp(r->unit, "x"))
		snprintf(buf, len, "%.3fx", r->value);
	else
		snprintf(buf, len, "%.0f %s", r->value, r->unit ? r->unit : "");
}

/* The line above the table: backend, CPUs, agents, iterations (or the macro's setup). */
static void print_header(struct bench *b)
{
	char line[64];
	struct ghost_cpuset cs;

	ghost_cpuset_zero(&cs);
	ghost_cpuset_set(&cs, b->cpu_a);
	ghost_cpuset_set(&cs, b->cpu_b);
	ghost_cpuset_format_list(&cs, line, sizeof(line));
	if (b->opt.micro)
		printf(PROG ": kernel %s, CPUs %s: spinning global agent on CPU %d (normal "
			    "priority), sleeping agent on CPU %d (%s); %ld iterations after %ld of "
			    "warm-up\n\n",
		       b->kernel_name, line, b->cpu_a, b->cpu_b, b->prio_used, b->n_iter,
		       b->n_warm);
	else
		printf(PROG ": kernel %s, CPUs %s: the rpc benchmark only, agents --prio %s, %.1f "
			    "s per point, %d run%s each\n\n",
		       b->kernel_name, line, tool_prio_name(b->opt.prio), b->opt.macro_seconds,
		       b->opt.repeat, b->opt.repeat == 1 ? "" : "s");
}

void print_table(struct bench *b)
{
	print_header(b);
	printf("%-70s %10s %10s %10s %8s  %-7s %s\n", "operation", "median", "p99", "min", "ratio",
	       "target", "met");
	for (int i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];
		char med[32], p99[32], min[32], ratio[32], target[32];
		double x = row_ratio(b, r);
		int met = row_met(b, r);

		if (r->timed) {
			fmt_ns(med, sizeof(med), r->med);
			fmt_ns(p99, sizeof(p99), r->p99);
			fmt_ns(min, sizeof(min), r->min);
		} else {
			fmt_value(med, sizeof(med), r);
			snprintf(p99, sizeof(p99), " ");
			snprintf(min, sizeof(min), " ");
		}
		if (isnan(x))
			snprintf(ratio, sizeof(ratio), " ");
		else
			snprintf(ratio, sizeof(ratio), "%.2fx", x);
		if (isnan(r->target))
			snprintf(target, sizeof(target), " ");
		else if (!strcmp(r->target_on, "value") && r->unit && !strcmp(r->unit, "x"))
			snprintf(target, sizeof(target), "<=%.1fx", r->target);
		else if (!strcmp(r->target_on, "value"))
			snprintf(target, sizeof(target), "<=%.0f", r->target);
		else
			snprintf(target, sizeof(target), "<=%.1fx", r->target);
		printf("%-70.70s %10s %10s %10s %8s  %-7s %s%s\n", r->label, med, p99, min, ratio,
		       target,
		       met < 0 ? ""
		       : met   ? "yes"
			       : "NO",
		       r->failed ? " (FAILED)" : "");
	}
	printf("\nbaselines of the ratios:\n");
	for (int i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];

		if (!r->base[0])
			continue;
		printf("  %-44s vs %s\n", r->name, r->base);
	}
	printf("\nnotes:\n");
	for (int i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];

		if (r->unit && (!strcmp(r->unit, "txn/s") || !strcmp(r->unit, "req/s"))) {
			char v[48];

			fmt_value(v, sizeof(v), r);
			printf("  %s: %s%s", r->name, v, r->note[0] ? "; " : "\n");
			if (r->note[0])
				printf("%s\n", r->note);
		} else if (r->note[0]) {
			printf("  %s: %s\n", r->name, r->note);
		}
		if (!isnan(r->p999))
			printf("  %s: p99.9 %.1f us\n", r->name, r->p999 / 1e3);
	}
}

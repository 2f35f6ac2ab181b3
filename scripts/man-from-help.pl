#!/usr/bin/env perl
# scripts/man-from-help.pl - writes a program's man page (roff, to stdout)
# from its own `--help` text, so that the page can never say something the
# program does not. Run by the build (mk/install.mk) for every tool.
#
# Usage: scripts/man-from-help.pl --section N --summary TEXT
#            [--source TEXT] [--see-also "a(1) b(8)..."] PROGRAM
#
# What it understands of a help text (every tool's follows it): a first line
# "usage: NAME ARGS" with indented continuation lines (SYNOPSIS); plain
# paragraphs (DESCRIPTION); a line "heading:" alone, starting a section of
# that name; items "  TERM   description" with deeper-indented continuation
# lines (items with no heading before them are OPTIONS); a paragraph opening
# with "label: " (one or two words), starting a section of that name, as
# "exit status: ..."; a paragraph after a list, in NOTES. It only reads the
# program's output: it never changes the text, only lays it out.
use strict;
use warnings;
use File::Basename qw(basename);
use Getopt::Long qw(GetOptions);

my ($section, $summary, $source, $see_also) = ('', '', '', '');
GetOptions('section=s' => \$section, 'summary=s' => \$summary, 'source=s' => \$source,
	   'see-also=s' => \$see_also) && @ARGV == 1 && $section =~ /^[1-9]$/ && $summary ne ''
	or die "usage: $0 --section N --summary TEXT [--source TEXT] [--see-also LIST] PROGRAM\n";
my $program = $ARGV[0];
my $name = basename($program);

open(my $fh, '-|', $program, '--help') or die "$0: cannot run $program: $!\n";
my @lines = map { s/\s+$//r } <$fh>;
close($fh) or die "$0: $program --help failed (exit status " . ($? >> 8) . ")\n";

# Plain text for roff: backslashes and hyphens escaped, no line that starts
# like a request.
sub text {
	my ($s) = @_;
	$s =~ s/\\/\\e/g;
	$s =~ s/-/\\-/g;
	$s =~ s/^([.'])/\\&$1/;
	return $s;
}

# A term or synopsis: options and command words bold, PLACEHOLDERS italic;
# the punctuation around them and every run of spaces kept as it is.
sub term {
	my ($s) = @_;
	my $out = '';
	for my $piece (split /( +)/, $s) {
		if ($piece =~ /^ +$/ || $piece eq '') {
			$out .= $piece;
			next;
		}
		my ($pre, $core, $post) = $piece =~ /^([\[\{(|]*)(.*?)([\]\}),|.]*)$/;
		my $font = $core =~ /^[A-Z][A-Z0-9_:]*$/ ? 'I' : 'B';
		$out .= text($pre) . ($core eq '' ? '' : "\\f$font" . text($core) . '\fR') . text($post);
	}
	$out =~ s/^([.'])/\\&$1/;
	return $out;
}

my @out;
push @out, ".\\\" Generated from \"$name --help\" by scripts/man-from-help.pl:",
	   ".\\\" change the program's help text, not this file.",
	   '.TH ' . uc($name) . " $section \"\" \"$source\" \"ghOSt in C\"",
	   '.SH NAME', text($name) . ' \- ' . text($summary);

# SYNOPSIS: the usage line and its indented continuations, laid out as given.
@lines && $lines[0] =~ /^usage: +(.*)$/i or die "$0: $program --help does not start with \"usage:\"\n";
my @synopsis = ($1);
shift @lines;
while (@lines && $lines[0] =~ /^\s+\S/) {
	my $line = shift @lines;
	$line =~ s/^ {1,7}//;
	push @synopsis, $line;
}
push @out, '.SH SYNOPSIS', '.nf', (map { term($_) } @synopsis), '.fi';

my $section_name = '';		# the current .SH
my $fresh_section = 0;		# nothing under it yet
my $list = 0;			# items were given in the current section
my ($para, $item_term, $item_text, $item_indent);

sub heading {
	my ($title) = @_;
	push @out, '.SH ' . uc($title);
	($section_name, $fresh_section, $list) = (uc($title), 1, 0);
}

# A finished paragraph; an "Exit status:" sentence inside it moves to its own section.
sub flush_para {
	return unless defined $para;
	my $p = $para;
	undef $para;
	my $rest;
	($p, $rest) = ($1, $2) if $p =~ /^(.*?\.)\s+(Exit status: .*)$/is;
	if ($p =~ /^([A-Za-z]+(?: [a-z]+)?): +(\S.*)$/s) {
		heading($1);
		$p = $2;
	} elsif ($list) {
		heading('NOTES');
	} elsif ($section_name eq '') {
		heading('DESCRIPTION');
	}
	push @out, '.PP' unless $fresh_section;
	push @out, map { text($_) } split /\n/, $p;
	$fresh_section = 0;
	if (defined $rest) {
		$para = $rest;
		flush_para();
	}
}

sub flush_item {
	return unless defined $item_term;
	push @out, '.TP', term($item_term);
	push @out, map { text($_) } split /\n/, $item_text if $item_text ne '';
	undef $item_term;
	$fresh_section = 0;
}

for my $line (@lines) {
	if ($line eq '') {
		flush_para();
		flush_item();
	} elsif ($line =~ /^([A-Za-z][A-Za-z ]{0,24}):$/) {
		flush_para();
		flush_item();
		heading($1);
	} elsif ($line =~ /^\S/) {
		flush_item();
		$para = defined $para ? "$para\n$line" : $line;
	} elsif (defined $para) {
		$para .= "\n" . ($line =~ s/^\s+//r);
	} elsif (defined $item_term && $line =~ /^( *)/ && length($1) > $item_indent) {
		$line =~ s/^\s+//;
		$item_text = $item_text eq '' ? $line : "$item_text\n$line";
	} else {
		flush_item();
		heading('OPTIONS') if $section_name eq '' || ($section_name eq 'DESCRIPTION' && !$list);
		$line =~ /^( +)(\S.*?)(?: {2,}(\S.*))?$/;
		($item_indent, $item_term, $item_text) = (length($1), $2, $3 // '');
		$list = 1;
	}
}
flush_para();
flush_item();

my @see = split ' ', $see_also;
if (@see) {
	push @out, '.SH SEE ALSO';
	for my $i (0 .. $#see) {
		$see[$i] =~ /^([\w.-]+)\((\w+)\)$/ or die "$0: --see-also: \"$see[$i]\" is not NAME(SECTION)\n";
		push @out, '.BR ' . text($1) . " ($2)" . ($i < $#see ? ',' : '');
	}
}
print join("\n", @out), "\n";

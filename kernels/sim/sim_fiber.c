/*
 * kernels/sim/sim_fiber.c - the simulator's fibers: a stack per agent and a
 * switch between them, all on the one host thread that runs a simulation.
 *
 * Owns stacks (mmap'd, untouched pages cost nothing) and the context
 * switch: on x86-64 a hand-written one that saves only the callee-saved
 * registers (a switch is a function call to the compiler), elsewhere
 * swapcontext. Under AddressSanitizer the switch tells it which stack is
 * current. Never blocks, never looks at the clock; the bottom of the
 * simulator's layers.
 */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define SIM_ASAN 1
#endif

#if defined(__x86_64__) && !defined(SIM_USE_UCONTEXT)
#define SIM_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

#ifdef SIM_ASAN
#define SIM_STACK (1u << 20)
#else
#define SIM_STACK (256u << 10)
#endif

/* The fiber being started, for the trampoline (one simulation per thread). */
static __thread struct sim_fiber *starting;

static void fiber_main(struct sim_fiber *f)
{
	f->fn(f->arg);
	f->done = true;
	sim_fiber_switch(f, f->back);
	abort(); /* a finished fiber is never resumed */
}

#ifdef SIM_ASM_SWITCH
/* sim_ctx_switch(void **save_sp, void *new_sp): callee-saved registers on the stack. */
void sim_ctx_switch(void **save_sp, void *new_sp);
__asm__(".text\n"
	".globl sim_ctx_switch\n"
	".hidden sim_ctx_switch\n"
	".type sim_ctx_switch,@function\n"
	"sim_ctx_switch:\n"
	"\tpushq %rbp\n"
	"\tpushq %rbx\n"
	"\tpushq %r12\n"
	"\tpushq %r13\n"
	"\tpushq %r14\n"
	"\tpushq %r15\n"
	"\tmovq %rsp, (%rdi)\n"
	"\tmovq %rsi, %rsp\n"
	"\tpopq %r15\n"
	"\tpopq %r14\n"
	"\tpopq %r13\n"
	"\tpopq %r12\n"
	"\tpopq %rbx\n"
	"\tpopq %rbp\n"
	"\tret\n"
	".size sim_ctx_switch, .-sim_ctx_switch\n");

static void trampoline(void)
{
	struct sim_fiber *f = starting;

#ifdef SIM_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	fiber_main(f);
}
#else
static void trampoline(void)
{
	fiber_main(starting);
}
#endif

int sim_fiber_init(struct sim_fiber *f, void (*fn)(void *), void *arg)
{
	void *stack = mmap(NULL, SIM_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (stack == MAP_FAILED)
		return -ENOMEM;
	f->stack = stack;
	f->size = SIM_STACK;
	f->fn = fn;
	f->arg = arg;
	f->done = false;
#ifdef SIM_ASM_SWITCH
	{
		/* Six registers, then the trampoline as the return address; at its
		 * entry the stack is as after a call (16-byte aligned + 8). */
		uintptr_t top = ((uintptr_t)stack + SIM_STACK) & ~(uintptr_t)15;
		void **sp = (void **)(top - 8 * sizeof(void *));

		for (int i = 0; i < 6; i++)
			sp[i] = NULL;
		sp[6] = (void *)trampoline;
		sp[7] = NULL;
		f->sp = sp;
		f->uc = NULL;
	}
#else
	{
		ucontext_t *uc = calloc(1, sizeof(*uc));

		if (!uc) {
			munmap(stack, SIM_STACK);
			return -ENOMEM;
		}
		getcontext(uc);
		uc->uc_stack.ss_sp = stack;
		uc->uc_stack.ss_size = SIM_STACK;
		uc->uc_link = NULL;
		makecontext(uc, trampoline, 0);
		f->uc = uc;
	}
#endif
	return 0;
}

void sim_fiber_free(struct sim_fiber *f)
{
	if (f->stack)
		munmap(f->stack, f->size);
	free(f->uc);
	f->stack = NULL;
	f->uc = NULL;
}

void sim_fiber_switch(struct sim_fiber *from, struct sim_fiber *to)
{
	if (to->stack && !to->done && to->back == NULL)
		to->back = from;
	starting = to;
#ifdef SIM_ASAN
	{
		void *fake = NULL;

		__sanitizer_start_switch_fiber(to->done ? NULL : &fake, to->stack, to->size);
#endif
#ifdef SIM_ASM_SWITCH
		sim_ctx_switch(&from->sp, to->sp);
#else
	if (!from->uc) {
		from->uc = calloc(1, sizeof(ucontext_t));
		if (!from->uc)
			abort();
	}
	swapcontext(from->uc, to->uc);
#endif
#ifdef SIM_ASAN
		__sanitizer_finish_switch_fiber(fake, NULL, NULL);
	}
#endif
}

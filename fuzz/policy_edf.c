/*
 * fuzz/policy_edf.c - message dispatch into the edf policy (policies/), on an
 * embedded-kernel enclave set up once per process; fuzz/policy_harness.h holds the body.
 *
 * Beyond "no crash": the scheduler base keeps to the message rules of <ghost/sched.h>
 * (every return value, the task table and its counters match the harness's model), the
 * stats line fits its buffer and reports the table's tasks and no more runnable than
 * that, and once every task has died the policy knows none and has none runnable.
 */
#define FUZZ_POLICY "edf"

#include "policy_harness.h"

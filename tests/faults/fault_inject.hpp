// SPDX-License-Identifier: GPL-2.0
//
// Fault injection scoped to one system call of the calling thread (debug kernel only: failslab
// and fail_page_alloc, FAULT_INJECTION_DEBUG_FS; run-faults.sh sets their knobs).
//
// fail_nth arms /proc/thread-self/fail-nth, so that the n-th allocation of this thread fails,
// and make_it_fail sets /proc/thread-self/make-it-fail, so that allocations of this thread fail
// with the configured probability. Both files are opened before anything is armed: the only
// allocations that can fail are those of the call under test. sweep() runs an operation with
// its 1st, 2nd, ... allocation failing until the operation no longer reaches the armed one:
// every allocation site of that path has failed once.
#ifndef DIBS_TESTS_FAULT_INJECT_HPP
#define DIBS_TESTS_FAULT_INJECT_HPP

#include "fd.hpp"

#include <functional>
#include <string>
#include <vector>

namespace dibs::faults {

/// /proc/thread-self/fail-nth of the thread that constructs it.
class fail_nth {
public:
    fail_nth();
    /// The n-th allocation from now on fails (n >= 1).
    void arm(unsigned n);
    /// Disarms; returns true if the armed failure was injected.
    bool disarm();

private:
    tools::unique_fd fd_;
};

/// /proc/thread-self/make-it-fail of the thread that constructs it (failslab's task-filter).
class make_it_fail {
public:
    make_it_fail();
    void set(bool on);

private:
    tools::unique_fd fd_;
};

/// What a sweep did.
struct sweep_result {
    unsigned calls = 0;    ///< times the operation ran
    unsigned injected = 0; ///< of those, with an injected failure (sweeps only)
    unsigned failed = 0;   ///< of those, the operation reported an error
};

/// One operation: returns 0 on success or a positive errno. undo() reverts a success.
/// prepare(), if set, runs before each run() with nothing armed: what the operation needs but
/// is not under test (a socket to connect), so that failures land in the part that is.
struct operation {
    std::string name;
    std::function<int()> run;
    std::function<void()> undo;
    std::function<void()> prepare = {};
};

/// Errnos an operation may report for a failed allocation besides ENOMEM (documented at the
/// call).
using errno_set = std::vector<int>;

/// Runs op with its n-th allocation failing, n = 1, 2, ... until no failure was injected (the
/// operation must then succeed) or max_calls is reached: an error, unless partial (then only
/// the first max_calls allocation sites were swept). Every run must return 0, ENOMEM or one of
/// also_allowed; a success is undone before the next run. Throws std::runtime_error naming the
/// operation, n and the errno on any other outcome.
[[nodiscard]] sweep_result sweep(const operation& op, const errno_set& also_allowed = {},
                                 unsigned max_calls = 5000, bool partial = false);

/// Runs op rounds times with make-it-fail set around it (failslab/fail_page_alloc then fail
/// each allocation with the probability run-faults.sh configured); the same checks as sweep().
[[nodiscard]] sweep_result random_failures(const operation& op, unsigned rounds,
                                           const errno_set& also_allowed = {});

/// "ENOMEM" for ENOMEM, ... (strerrorname_np), "errno N" for an unknown one.
[[nodiscard]] std::string errno_name(int err);

} // namespace dibs::faults

#endif // DIBS_TESTS_FAULT_INJECT_HPP

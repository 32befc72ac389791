// SPDX-License-Identifier: GPL-2.0
//
// Shared pieces of the verbs conformance suite (test_verbs_conformance and its other .cpp
// files): device preconditions, sysfs readers, registered buffers, work request posting and
// completion checks, fixtures.
//
// The suite runs inside the VM (tests/verbs/run-conformance.sh) with dibs, dibs_loopback
// and dibs_rdma loaded and three devices: dibs_lo0 (fabric 0xffff: reaches only itself),
// dibs_lo1 and dibs_lo2 (fabric 0x10: reach each other).
#ifndef DIBS_TESTS_VERBS_CONFORMANCE_HPP
#define DIBS_TESTS_VERBS_CONFORMANCE_HPP

#include "dibs_verbs.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rdma/dibs-rdma-abi.h>
#include <rdma/rdma_user_ioctl_cmds.h>
#include <sys/mman.h>

namespace dibs::conformance {

using namespace dibs::verbs; // NOLINT(google-build-using-namespace): the suite's vocabulary

namespace utf = boost::unit_test;
using namespace std::chrono_literals;

inline constexpr std::string_view lo0 = "dibs_lo0"; ///< fabric 0xffff: reaches only itself
inline constexpr std::string_view lo1 = "dibs_lo1"; ///< fabric 0x10, with dibs_lo2
inline constexpr std::string_view lo2 = "dibs_lo2"; ///< fabric 0x10, with dibs_lo1

/// The device of the one-device fixtures (lo0_device, lo0_pair) and of the data, errors and
/// fuzz suites: $VERBS_CONFORMANCE_DEVICE, else dibs_lo0. run-conformance.sh --device runs those
/// suites on another device (the cross-VM device, whose peers are placed: the owner serves
/// RDMA requests itself); the other suites know dibs_loopback and always name lo0.
[[nodiscard]] std::string_view dut();

/// How long a receive completion (produced by a kernel work item) may take to appear.
inline constexpr std::chrono::milliseconds recv_timeout = 10s;
/// How long to watch for something that must not happen.
inline constexpr std::chrono::milliseconds quiet_time = 200ms;

// ---- preconditions and sysfs ------------------------------------------------------------------

/// Precondition: every named device is an ibverbs device (else the test unit is skipped).
struct devices_present {
    std::vector<std::string_view> names;
    boost::test_tools::assertion_result operator()(utf::test_unit_id /*unused*/) const;
};

/// The content of a sysfs file, without the trailing newline.
[[nodiscard]] std::string read_sysfs(const std::string& path);
/// Writes `value` to a sysfs file; returns 0 or the errno value.
[[nodiscard]] int write_sysfs(const std::string& path, std::string_view value);
/// /sys/class/dibs/<dev>/dmbs: the DMBs registered on the device now.
[[nodiscard]] unsigned dmbs(std::string_view dev);
/// /sys/class/dibs/<dev>/gid (a uuid) as the 16 GID bytes.
[[nodiscard]] ibv_gid sysfs_gid(std::string_view dev);
/// Waits until dmbs(dev) == want; returns the last count read.
[[nodiscard]] unsigned wait_dmbs(std::string_view dev, unsigned want,
                                 std::chrono::milliseconds timeout = 10s);

// ---- randomness -------------------------------------------------------------------------------

/// The suite's seed: $VERBS_CONFORMANCE_SEED or a fixed default; printed once.
[[nodiscard]] std::uint64_t seed();
/// The suite's random engine, seeded with seed().
[[nodiscard]] std::mt19937_64& rng();
void fill_random(std::span<std::byte> bytes);
[[nodiscard]] std::vector<std::byte> random_bytes(std::size_t n);

// ---- registered buffers -----------------------------------------------------------------------

/// Memory filled with a random pattern, then registered (the MR dies before the memory).
struct buffer {
    buffer(ibv_pd& pd, std::size_t size, access flags);

    [[nodiscard]] std::span<std::byte> bytes() noexcept { return data; }
    [[nodiscard]] std::span<std::byte> part(std::size_t off, std::size_t len) noexcept {
        return bytes().subspan(off, len);
    }
    /// The address of byte `off` as the MR is addressed (iova == virtual address).
    [[nodiscard]] std::uint64_t addr(std::size_t off = 0) const noexcept {
        return addr_of(data.data()) + off;
    }
    [[nodiscard]] ibv_sge sge(std::size_t off, std::size_t len) noexcept {
        return verbs::sge(*mr, part(off, len));
    }
    [[nodiscard]] std::uint32_t key() const noexcept { return mr->rkey; }

    std::vector<std::byte> data;
    mr_ptr mr;
};

// ---- posting and completions ------------------------------------------------------------------

/// ibv_post_send of one WR with `wr_id`; returns its errno value.
[[nodiscard]] int post(ibv_qp& qp, ibv_send_wr wr, std::uint64_t wr_id = 0);
/// ibv_post_recv of one WR; returns its errno value.
[[nodiscard]] int post_recv(ibv_qp& qp, std::span<ibv_sge> sges, std::uint64_t wr_id = 0);

/// The name of a status, for readable comparisons: BOOST_TEST(name(wc.status) == name(...)).
[[nodiscard]] std::string_view name(ibv_wc_status status) noexcept;
[[nodiscard]] std::string_view name(ibv_qp_state state) noexcept;

/// The completion that must be in `cq` already (post_send completes synchronously).
[[nodiscard]] ibv_wc completion_now(ibv_cq& cq);
/// Waits for a completion (receive completions come from a kernel work item).
[[nodiscard]] ibv_wc completion_within(ibv_cq& cq,
                                       std::chrono::milliseconds timeout = recv_timeout);
/// Every completion in `cq` now.
[[nodiscard]] std::vector<ibv_wc> drain(ibv_cq& cq);
/// Waits until `qp` is in `state`; false if it is not within `timeout`.
[[nodiscard]] bool wait_qp_state(ibv_qp& qp, ibv_qp_state state,
                                 std::chrono::milliseconds timeout = recv_timeout);
/// Checks that no completion arrives in `cq` for `time`.
void check_no_completion(ibv_cq& cq, std::chrono::milliseconds time = quiet_time);

/// A driver method of UVERBS_OBJECT_QP (the uapi header's DIBS_RDMA_METHOD_QP_*) with `attrs`,
/// through the uverbs ioctl of `cmd_fd`: 0 or the errno value.
[[nodiscard]] int qp_method(int cmd_fd, std::uint32_t method,
                            std::span<const ib_uverbs_attr> attrs);

/// Is the bypass data path on in this process (DIBS_RDMA_BYPASS is not "0")?
[[nodiscard]] bool bypass();

/// DIBS_RDMA_METHOD_QP_OPEN_RING or DIBS_RDMA_METHOD_QP_OPEN_OWN_RING (`method`, which take the
/// same attributes) with a raw QP handle, answering into `resp_len` bytes of `resp`: 0 or the
/// errno value.
[[nodiscard]] int open_ring_method(int cmd_fd, std::uint32_t method, std::uint32_t qp_handle,
                                   dibs_rdma_window_resp& resp,
                                   std::size_t resp_len = sizeof(dibs_rdma_window_resp));

/// The mmap rules of a ring or own-ring window that `resp` describes, on the uverbs file `fd`
/// of dut(): all of it maps shared and writable, nothing past its end, not privately; its
/// state page read-only; not from another context. `what` names the window in failures.
void check_ring_window_mmap(int fd, const dibs_rdma_window_resp& resp, std::string_view what);

/// One mapping of a uverbs file in this process.
struct uverbs_mapping {
    std::uintptr_t start = 0;
    std::uintptr_t end = 0;
    std::uint64_t offset = 0; ///< in bytes
};

/// The mmap rules of a queue ring of `qp` (a QP of `ctx`) that the provider mapped at `map`: it
/// maps again shared and writable at its length only, not from another context of dut(), not
/// once `qp` is destroyed (the test destroys it); a mapping that outlives the QP is harmless.
void check_queue_ring_mmap(ibv_context& ctx, const uverbs_mapping& map, qp_ptr& qp);

/// The uverbs mappings in /proc/self/maps.
[[nodiscard]] std::vector<uverbs_mapping> uverbs_mappings();

/// The queue rings of a QP the provider created between `before` and `after`: the two uverbs
/// mappings in `after` but not in `before` (a test failure if there are others). The kernel
/// gives out mmap offsets in order, and the receive queue ring's first.
struct qp_rings {
    uverbs_mapping rq;
    uverbs_mapping sq;
};
[[nodiscard]] qp_rings new_qp_rings(const std::vector<uverbs_mapping>& before,
                                    const std::vector<uverbs_mapping>& after);

/// What a window mapping maps, told by its length: a ring window a ring's header and slots, an
/// own-ring window a ring's whole pages, a direct window anything else (the tests' MRs are of
/// other lengths).
enum class window_kind { direct, ring, own_ring };

/// The mappings of window data of `kind` in this process: uverbs mappings at a window offset
/// (1 << 40 pages and up, 1 << 20 pages per window, whose last is its state page).
[[nodiscard]] std::vector<uverbs_mapping> window_mappings(window_kind kind);

/// mmap of the uverbs file `fd`: 0 or the errno value (the mapping is removed again).
[[nodiscard]] int try_mmap(int fd, std::uint64_t offset, std::size_t len, int prot,
                           int flags = MAP_SHARED);

/// Counts this thread's system calls from construction on: a perf counter on the
/// raw_syscalls:sys_enter tracepoint (root; tracefs under the VM's debugfs).
class syscall_counter {
public:
    syscall_counter();
    ~syscall_counter();
    syscall_counter(const syscall_counter&) = delete;
    syscall_counter& operator=(const syscall_counter&) = delete;
    syscall_counter(syscall_counter&&) = delete;
    syscall_counter& operator=(syscall_counter&&) = delete;

    /// System calls so far, this read's own included.
    [[nodiscard]] std::uint64_t count() const;

private:
    int fd_ = -1;
};

/// Checks `got` byte for byte against `want`, naming the first difference.
void check_bytes(std::span<const std::byte> got, std::span<const std::byte> want,
                 std::string_view what);

/// Posts `wr` and checks its completion: in the CQ when post returns, with `status`.
ibv_wc post_and_complete(ibv_qp& qp, ibv_cq& cq, ibv_send_wr wr, ibv_wc_status status,
                         std::uint64_t wr_id = 0x5eed);

// ---- fixtures ---------------------------------------------------------------------------------

/// dut() (dibs_lo0 by default) opened, with one PD.
struct lo0_device {
    lo0_device();
    context_ptr ctx;
    pd_ptr pd;
};

/// dut() with a connected RC pair (both ends on it, inline up to 256 bytes).
struct lo0_pair : lo0_device {
    lo0_pair();
    /// The options the pair was created with.
    [[nodiscard]] static rc_pair_options options();
    rc_pair pair;
};

/// dibs_lo1 and dibs_lo2 opened, one PD each.
struct fabric_devices {
    fabric_devices();
    context_ptr ctx1;
    pd_ptr pd1;
    context_ptr ctx2;
    pd_ptr pd2;
};

} // namespace dibs::conformance

#endif // DIBS_TESTS_VERBS_CONFORMANCE_HPP

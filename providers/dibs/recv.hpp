// SPDX-License-Identifier: GPL-2.0
//
// Receiving without the kernel: the QP's own receive ring (include/uapi/rdma/dibs-rdma-wire.h),
// mapped into the process through an own-ring window, drained by poll_cq ("Receiving in the
// process" in the uapi header). Holding the drain, the provider matches each whole message with
// the next entry of the receive queue ring (rq.hpp), places a SEND's data into its buffers after
// the checks the kernel makes (mr_table), and completes it straight into the caller's ibv_wc
// array - after whatever the kernel completed before, which the CQ ring holds. A message of
// several slots waits until all of them are there. Anything else - a message longer than the
// ring, a receive whose buffers fail the checks, an armed CQ, a kernel that asked for the drain
// - goes to the kernel: one POLL_CQ command, whose completions follow.
#ifndef DIBS_PROVIDER_RECV_HPP
#define DIBS_PROVIDER_RECV_HPP

#include "bypass.hpp"

#include <cstddef>
#include <optional>
#include <span>

#include <infiniband/verbs.h>
#include <rdma/dibs-rdma-wire.h>

namespace dibs::provider {

struct dibs_qp;
struct dibs_cq;

/// A QP's own-ring window: its receive ring, which its peer writes.
class own_ring {
public:
    /// Opens the own-ring window of qp: 0, the kernel's errno (the uapi header lists them), or
    /// ENOMEM.
    [[nodiscard]] static int open(ibv_qp& qp, std::optional<own_ring>& out) noexcept;
    explicit own_ring(window&& win) noexcept;

    /// False once the kernel revoked the window (see window::valid()).
    [[nodiscard]] bool valid() const noexcept { return win_.valid(); }
    [[nodiscard]] dibs_rdma_ring& ring() const noexcept { return *ring_; }

private:
    window win_;
    dibs_rdma_ring* ring_; ///< the window's bytes: header and slots only
};

/// Completes into out, from n on (advanced), what qp's receive ring holds; cq is qp's receive
/// CQ, whose lock the caller holds. Returns true if the kernel must drain too (POLL_CQ).
[[nodiscard]] bool receive(dibs_qp& qp, dibs_cq& cq, std::span<ibv_wc> out,
                           std::size_t& n) noexcept;

} // namespace dibs::provider

#endif // DIBS_PROVIDER_RECV_HPP

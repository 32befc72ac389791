// SPDX-License-Identifier: GPL-2.0
//
// dibs_verbs: RAII wrappers over libibverbs for the verbs tests (tests/verbs).
//
// Every libibverbs object is a std::unique_ptr with a stateless deleter; a deleter never
// throws and logs a failed destroy on stderr. The factories are [[nodiscard]] and throw
// verbs_error, which names the verb, the errno and the resource, e.g.
//     ibv_create_qp(dev=dibs_lo0): Invalid argument (errno 22)
// Owners declare children after parents (context, pd, cq/mr, qp), so children die first.
// The fast path (post, poll) is not wrapped: call ibv_post_send() and friends directly; the
// work request builders below only fill structures (no allocation, no exception).
#ifndef DIBS_VERBS_HPP
#define DIBS_VERBS_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <infiniband/verbs.h>

namespace dibs::verbs {

// ---- errors -----------------------------------------------------------------------------------

/// A failed verb: "verb(resource): strerror (errno N)".
class verbs_error : public std::runtime_error {
public:
    verbs_error(std::string_view verb, int errnum, std::string_view resource);

    [[nodiscard]] const std::string& verb() const noexcept { return verb_; }
    /// The errno value the verb failed with.
    [[nodiscard]] int error() const noexcept { return errnum_; }
    [[nodiscard]] const std::string& resource() const noexcept { return resource_; }

private:
    std::string verb_;
    int errnum_;
    std::string resource_;
};

/// "verb(resource): strerror (errno N)"; the text of verbs_error.
[[nodiscard]] std::string error_text(std::string_view verb, int errnum, std::string_view resource);

/// Names a resource for messages: "dev=dibs_lo0", "dev=dibs_lo0 qp=3", ...
[[nodiscard]] std::string describe(const ibv_context* ctx);
[[nodiscard]] std::string describe(const ibv_qp* qp);

// ---- access flags -----------------------------------------------------------------------------

/// ibv_access_flags as a type-safe flag set.
enum class access : unsigned {
    none = 0,
    local_write = IBV_ACCESS_LOCAL_WRITE,
    remote_write = IBV_ACCESS_REMOTE_WRITE,
    remote_read = IBV_ACCESS_REMOTE_READ,
    remote_atomic = IBV_ACCESS_REMOTE_ATOMIC,
};

[[nodiscard]] constexpr access operator|(access a, access b) noexcept {
    return static_cast<access>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
[[nodiscard]] constexpr access operator&(access a, access b) noexcept {
    return static_cast<access>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
[[nodiscard]] constexpr int to_ibv(access a) noexcept {
    return static_cast<int>(a);
}

/// Every remote right (what an MR or QP needs for all RDMA and atomic operations).
inline constexpr access remote_all =
    access::remote_write | access::remote_read | access::remote_atomic;
/// Local write plus every remote right.
inline constexpr access all_access = access::local_write | remote_all;

// ---- deleters and owning pointers -------------------------------------------------------------

struct device_list_del {
    void operator()(ibv_device** list) const noexcept;
};
struct context_del {
    void operator()(ibv_context* ctx) const noexcept;
};
struct pd_del {
    void operator()(ibv_pd* pd) const noexcept;
};
struct mr_del {
    void operator()(ibv_mr* mr) const noexcept;
};
struct comp_channel_del {
    void operator()(ibv_comp_channel* channel) const noexcept;
};
struct cq_del {
    void operator()(ibv_cq* cq) const noexcept;
};
struct qp_del {
    void operator()(ibv_qp* qp) const noexcept;
};

using context_ptr = std::unique_ptr<ibv_context, context_del>;
using pd_ptr = std::unique_ptr<ibv_pd, pd_del>;
using mr_ptr = std::unique_ptr<ibv_mr, mr_del>;
using comp_channel_ptr = std::unique_ptr<ibv_comp_channel, comp_channel_del>;
using cq_ptr = std::unique_ptr<ibv_cq, cq_del>;
using qp_ptr = std::unique_ptr<ibv_qp, qp_del>;

// ---- devices ----------------------------------------------------------------------------------

/// The list of ibv_get_device_list().
class device_list {
public:
    [[nodiscard]] static device_list get();

    [[nodiscard]] std::span<ibv_device* const> devices() const noexcept;
    /// The device named `name`, or nullptr.
    [[nodiscard]] ibv_device* find(std::string_view name) const noexcept;

private:
    device_list(ibv_device** list, int count) noexcept : list_(list), count_(count) {}

    std::unique_ptr<ibv_device*, device_list_del> list_;
    int count_;
};

/// Opens the device named `name` (ENODEV if there is none).
[[nodiscard]] context_ptr open_device(std::string_view name);

/// What a peer needs to address a port: its LID and GID index 0.
struct port_address {
    std::uint16_t lid = 0;
    ibv_gid gid{};
};

[[nodiscard]] ibv_port_attr query_port(ibv_context& ctx, std::uint8_t port = 1);
[[nodiscard]] ibv_gid query_gid(ibv_context& ctx, int index = 0, std::uint8_t port = 1);
[[nodiscard]] port_address query_address(ibv_context& ctx, std::uint8_t port = 1);

// ---- pd, mr, cq -------------------------------------------------------------------------------

[[nodiscard]] pd_ptr alloc_pd(ibv_context& ctx);
[[nodiscard]] mr_ptr reg_mr(ibv_pd& pd, std::span<std::byte> buf, access flags);
/// An MR addressed by `iova` rather than by the buffer's virtual address.
[[nodiscard]] mr_ptr reg_mr_iova(ibv_pd& pd, std::span<std::byte> buf, std::uint64_t iova,
                                 access flags);
[[nodiscard]] comp_channel_ptr create_comp_channel(ibv_context& ctx);
[[nodiscard]] cq_ptr create_cq(ibv_context& ctx, int cqe, ibv_comp_channel* channel = nullptr);

// ---- queue pairs ------------------------------------------------------------------------------

struct qp_caps {
    std::uint32_t max_send_wr = 64;
    std::uint32_t max_recv_wr = 64;
    std::uint32_t max_send_sge = 16;
    std::uint32_t max_recv_sge = 16;
    std::uint32_t max_inline_data = 0;
};

/// ibv_qp_init_attr for an RC QP.
[[nodiscard]] ibv_qp_init_attr rc_init_attr(ibv_cq& send_cq, ibv_cq& recv_cq, const qp_caps& caps,
                                            bool sig_all = false) noexcept;
[[nodiscard]] qp_ptr create_qp(ibv_pd& pd, ibv_qp_init_attr& attr);
[[nodiscard]] qp_ptr create_rc_qp(ibv_pd& pd, ibv_cq& send_cq, ibv_cq& recv_cq,
                                  const qp_caps& caps = {}, bool sig_all = false);

/// How a QP addresses its peer at RTR.
enum class addressing {
    lid,         ///< no GRH: dlid only
    gid,         ///< GRH with the peer's GID index 0, dlid 0
    gid_and_lid, ///< GRH and dlid (what rdma-core's own tests do)
};

std::ostream& operator<<(std::ostream& os, addressing how);

/// The far end of a connection.
struct qp_endpoint {
    port_address address;
    std::uint32_t qpn = 0;
};

[[nodiscard]] qp_endpoint endpoint_of(ibv_qp& qp);

/// ibv_modify_qp, throwing verbs_error.
void modify_qp(ibv_qp& qp, ibv_qp_attr& attr, int mask);
/// The transitions of an RC or UC connection (by the QP's type), with every attribute the IB
/// spec requires: UC has no RDMA READ or atomic attributes, no RNR timer, no retries.
void qp_to_init(ibv_qp& qp, access qp_access);
void qp_to_rtr(ibv_qp& qp, const qp_endpoint& remote, addressing how);
void qp_to_rts(ibv_qp& qp);
void qp_to_reset(ibv_qp& qp);
/// RESET -> INIT -> RTR -> RTS towards `remote`.
void connect_qp(ibv_qp& qp, const qp_endpoint& remote, access qp_access = remote_all,
                addressing how = addressing::lid);
/// The attributes of the INIT -> RTR transition (for tests that leave one out).
[[nodiscard]] ibv_qp_attr rtr_attr(const qp_endpoint& remote, addressing how) noexcept;
inline constexpr int uc_rtr_mask =
    IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN;
inline constexpr int rtr_mask = uc_rtr_mask | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
[[nodiscard]] ibv_qp_state query_qp_state(ibv_qp& qp);

/// One end of an RC (or UC) connection: a CQ for both queues, and the QP (destroyed first).
struct rc_end {
    ibv_pd* pd = nullptr;
    cq_ptr cq;
    qp_ptr qp;
};

struct rc_pair_options {
    qp_caps caps;
    int cqe = 256;
    access qp_access = remote_all;
    addressing how = addressing::lid;
    bool sig_all = false;
    ibv_qp_type type = IBV_QPT_RC; ///< or IBV_QPT_UC
};

/// Two RC QPs (UC with opts.type) connected to each other: a on pd_a's device, b on pd_b's
/// (which may be the same).
class rc_pair {
public:
    [[nodiscard]] static rc_pair create(ibv_pd& pd_a, ibv_pd& pd_b,
                                        const rc_pair_options& opts = {});

    /// Moves both QPs to RESET and connects them again.
    void reconnect();
    /// Moves `end` (a or b) to RESET and connects it again to the other end.
    void reconnect(rc_end& end);

    rc_end a;
    rc_end b;
    rc_pair_options opts;
};

// ---- completions and events -------------------------------------------------------------------

/// One ibv_poll_cq() call for at most one completion; throws verbs_error if polling fails.
[[nodiscard]] std::optional<ibv_wc> poll_now(ibv_cq& cq);
/// Polls until a completion arrives or `timeout` passes.
[[nodiscard]] std::optional<ibv_wc> poll_wait(ibv_cq& cq, std::chrono::milliseconds timeout);

/// An async event, already acknowledged.
struct async_event {
    ibv_event_type type{};
    ibv_cq* cq = nullptr;
    ibv_qp* qp = nullptr;
    ibv_srq* srq = nullptr;
    int port = 0;
};

/// Waits for an async event of `ctx` (poll() on its async_fd), acknowledges it.
[[nodiscard]] std::optional<async_event> wait_async_event(ibv_context& ctx,
                                                          std::chrono::milliseconds timeout);
/// Waits for a completion event on `channel`, acknowledges it; returns its CQ.
[[nodiscard]] std::optional<ibv_cq*> wait_cq_event(ibv_comp_channel& channel,
                                                   std::chrono::milliseconds timeout);

// ---- work requests ----------------------------------------------------------------------------

/// An SGE for `part`, which must lie inside `mr` (addressed by virtual address).
[[nodiscard]] ibv_sge sge(const ibv_mr& mr, std::span<const std::byte> part) noexcept;
/// The virtual address of `p`, as work requests carry it.
[[nodiscard]] std::uint64_t addr_of(const void* p) noexcept;

/// RDMA_WRITE, RDMA_WRITE_WITH_IMM or RDMA_READ.
[[nodiscard]] ibv_send_wr rdma_wr(ibv_wr_opcode opcode, std::span<ibv_sge> sges,
                                  std::uint64_t remote_addr, std::uint32_t rkey,
                                  unsigned flags = IBV_SEND_SIGNALED,
                                  std::uint32_t imm = 0) noexcept;
/// ATOMIC_CMP_AND_SWP or ATOMIC_FETCH_AND_ADD.
[[nodiscard]] ibv_send_wr atomic_wr(ibv_wr_opcode opcode, ibv_sge& result,
                                    std::uint64_t remote_addr, std::uint32_t rkey,
                                    std::uint64_t compare_add, std::uint64_t swap,
                                    unsigned flags = IBV_SEND_SIGNALED) noexcept;
/// SEND or SEND_WITH_IMM.
[[nodiscard]] ibv_send_wr send_wr(ibv_wr_opcode opcode, std::span<ibv_sge> sges,
                                  unsigned flags = IBV_SEND_SIGNALED,
                                  std::uint32_t imm = 0) noexcept;
[[nodiscard]] ibv_recv_wr recv_wr(std::span<ibv_sge> sges, std::uint64_t wr_id = 0) noexcept;

/// The immediate data of a completion, in host order.
[[nodiscard]] std::uint32_t imm_of(const ibv_wc& wc) noexcept;

} // namespace dibs::verbs

#endif // DIBS_VERBS_HPP

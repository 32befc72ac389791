// SPDX-License-Identifier: GPL-2.0
//
// dibs_verbs: RAII wrappers over libibverbs (see dibs_verbs.hpp).
#include "dibs_verbs.hpp"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <poll.h>

namespace dibs::verbs {

namespace {

using clock = std::chrono::steady_clock;

/// The errno a failed verb left, never 0.
[[nodiscard]] int last_errno() noexcept {
    return errno != 0 ? errno : EIO;
}

/// Logs a failed destroy; deleters call this and carry on.
void log_destroy_failure(std::string_view verb, int errnum, std::string_view resource) noexcept {
    try {
        const std::string text = "dibs_verbs: " + error_text(verb, errnum, resource) + "\n";
        (void)std::fputs(text.c_str(), stderr);
    } catch (...) {
        (void)std::fputs("dibs_verbs: a destroy verb failed\n", stderr);
    }
}

/// Runs a destroy verb returning 0 or an errno value (or -1 and errno), and logs a failure
/// naming the resource that what() describes.
template <class Verb, class What>
void destroy(std::string_view verb, Verb&& call, What&& what) noexcept {
    errno = 0;
    const int rc = std::forward<Verb>(call)();
    if (rc == 0) {
        return;
    }
    const int err = rc > 0 ? rc : last_errno();
    try {
        log_destroy_failure(verb, err, std::forward<What>(what)());
    } catch (...) {
        log_destroy_failure(verb, err, "?");
    }
}

/// Throws verbs_error for a verb that returned an errno value (0: success).
void check(int rc, std::string_view verb, std::string_view resource) {
    if (rc != 0) {
        throw verbs_error(verb, rc > 0 ? rc : last_errno(), resource);
    }
}

/// Takes ownership of what a create verb returned, or throws verbs_error naming errno.
template <class Ptr>
[[nodiscard]] Ptr own(typename Ptr::pointer p, std::string_view verb, std::string_view resource) {
    if (p == nullptr) {
        throw verbs_error(verb, last_errno(), resource);
    }
    return Ptr{p};
}

} // namespace

// ---- errors -----------------------------------------------------------------------------------

std::string error_text(std::string_view verb, int errnum, std::string_view resource) {
    std::string text{verb};
    text += '(';
    text += resource;
    text += "): ";
    text += std::strerror(errnum); // NOLINT(concurrency-mt-unsafe): messages only
    text += " (errno ";
    text += std::to_string(errnum);
    text += ')';
    return text;
}

verbs_error::verbs_error(std::string_view verb, int errnum, std::string_view resource)
    : std::runtime_error(error_text(verb, errnum, resource))
    , verb_(verb)
    , errnum_(errnum)
    , resource_(resource) {}

std::string describe(const ibv_context* ctx) {
    if (ctx == nullptr || ctx->device == nullptr) {
        return "dev=?";
    }
    return std::string{"dev="} + ibv_get_device_name(ctx->device);
}

std::string describe(const ibv_qp* qp) {
    if (qp == nullptr) {
        return "qp=?";
    }
    return describe(qp->context) + " qp=" + std::to_string(qp->qp_num);
}

// ---- deleters ---------------------------------------------------------------------------------

void device_list_del::operator()(ibv_device** list) const noexcept {
    ibv_free_device_list(list);
}

void context_del::operator()(ibv_context* ctx) const noexcept {
    destroy(
        "ibv_close_device", [ctx] { return ibv_close_device(ctx); },
        [ctx] { return describe(ctx); });
}

void pd_del::operator()(ibv_pd* pd) const noexcept {
    destroy(
        "ibv_dealloc_pd", [pd] { return ibv_dealloc_pd(pd); },
        [pd] { return describe(pd->context); });
}

void mr_del::operator()(ibv_mr* mr) const noexcept {
    destroy(
        "ibv_dereg_mr", [mr] { return ibv_dereg_mr(mr); },
        [mr] { return describe(mr->context) + " lkey=" + std::to_string(mr->lkey); });
}

void comp_channel_del::operator()(ibv_comp_channel* channel) const noexcept {
    destroy(
        "ibv_destroy_comp_channel", [channel] { return ibv_destroy_comp_channel(channel); },
        [channel] { return describe(channel->context); });
}

void cq_del::operator()(ibv_cq* cq) const noexcept {
    destroy(
        "ibv_destroy_cq", [cq] { return ibv_destroy_cq(cq); },
        [cq] { return describe(cq->context); });
}

void qp_del::operator()(ibv_qp* qp) const noexcept {
    // a destroyed QP is gone: remember what names it
    ibv_context* ctx = qp->context;
    const std::uint32_t qpn = qp->qp_num;
    destroy(
        "ibv_destroy_qp", [qp] { return ibv_destroy_qp(qp); },
        [ctx, qpn] { return describe(ctx) + " qp=" + std::to_string(qpn); });
}

// ---- devices ----------------------------------------------------------------------------------

device_list device_list::get() {
    int count = 0;
    errno = 0;
    ibv_device** list = ibv_get_device_list(&count);
    if (list == nullptr) {
        throw verbs_error("ibv_get_device_list", last_errno(), "");
    }
    return device_list{list, count};
}

std::span<ibv_device* const> device_list::devices() const noexcept {
    return {list_.get(), static_cast<std::size_t>(count_)};
}

ibv_device* device_list::find(std::string_view name) const noexcept {
    for (ibv_device* dev : devices()) {
        if (name == ibv_get_device_name(dev)) {
            return dev;
        }
    }
    return nullptr;
}

context_ptr open_device(std::string_view name) {
    const std::string what = "dev=" + std::string{name};
    const device_list list = device_list::get();
    ibv_device* dev = list.find(name);
    if (dev == nullptr) {
        throw verbs_error("ibv_open_device", ENODEV, what);
    }
    errno = 0;
    // the context keeps its device alive after the list is freed
    return own<context_ptr>(ibv_open_device(dev), "ibv_open_device", what);
}

ibv_port_attr query_port(ibv_context& ctx, std::uint8_t port) {
    ibv_port_attr attr{};
    check(ibv_query_port(&ctx, port, &attr), "ibv_query_port", describe(&ctx));
    return attr;
}

ibv_gid query_gid(ibv_context& ctx, int index, std::uint8_t port) {
    ibv_gid gid{};
    errno = 0;
    if (ibv_query_gid(&ctx, port, index, &gid) != 0) {
        throw verbs_error("ibv_query_gid", last_errno(),
                          describe(&ctx) + " index=" + std::to_string(index));
    }
    return gid;
}

port_address query_address(ibv_context& ctx, std::uint8_t port) {
    return {query_port(ctx, port).lid, query_gid(ctx, 0, port)};
}

// ---- pd, mr, cq -------------------------------------------------------------------------------

pd_ptr alloc_pd(ibv_context& ctx) {
    errno = 0;
    return own<pd_ptr>(ibv_alloc_pd(&ctx), "ibv_alloc_pd", describe(&ctx));
}

mr_ptr reg_mr(ibv_pd& pd, std::span<std::byte> buf, access flags) {
    errno = 0;
    return own<mr_ptr>(ibv_reg_mr(&pd, buf.data(), buf.size(), to_ibv(flags)), "ibv_reg_mr",
                       describe(pd.context) + " len=" + std::to_string(buf.size()));
}

mr_ptr reg_mr_iova(ibv_pd& pd, std::span<std::byte> buf, std::uint64_t iova, access flags) {
    errno = 0;
    return own<mr_ptr>(ibv_reg_mr_iova(&pd, buf.data(), buf.size(), iova, to_ibv(flags)),
                       "ibv_reg_mr_iova",
                       describe(pd.context) + " len=" + std::to_string(buf.size()));
}

comp_channel_ptr create_comp_channel(ibv_context& ctx) {
    errno = 0;
    return own<comp_channel_ptr>(ibv_create_comp_channel(&ctx), "ibv_create_comp_channel",
                                 describe(&ctx));
}

cq_ptr create_cq(ibv_context& ctx, int cqe, ibv_comp_channel* channel) {
    errno = 0;
    return own<cq_ptr>(ibv_create_cq(&ctx, cqe, nullptr, channel, 0), "ibv_create_cq",
                       describe(&ctx) + " cqe=" + std::to_string(cqe));
}

// ---- queue pairs ------------------------------------------------------------------------------

ibv_qp_init_attr rc_init_attr(ibv_cq& send_cq, ibv_cq& recv_cq, const qp_caps& caps,
                              bool sig_all) noexcept {
    ibv_qp_init_attr attr{};
    attr.send_cq = &send_cq;
    attr.recv_cq = &recv_cq;
    attr.qp_type = IBV_QPT_RC;
    attr.sq_sig_all = sig_all ? 1 : 0;
    attr.cap.max_send_wr = caps.max_send_wr;
    attr.cap.max_recv_wr = caps.max_recv_wr;
    attr.cap.max_send_sge = caps.max_send_sge;
    attr.cap.max_recv_sge = caps.max_recv_sge;
    attr.cap.max_inline_data = caps.max_inline_data;
    return attr;
}

qp_ptr create_qp(ibv_pd& pd, ibv_qp_init_attr& attr) {
    errno = 0;
    return own<qp_ptr>(ibv_create_qp(&pd, &attr), "ibv_create_qp", describe(pd.context));
}

qp_ptr create_rc_qp(ibv_pd& pd, ibv_cq& send_cq, ibv_cq& recv_cq, const qp_caps& caps,
                    bool sig_all) {
    ibv_qp_init_attr attr = rc_init_attr(send_cq, recv_cq, caps, sig_all);
    return create_qp(pd, attr);
}

std::ostream& operator<<(std::ostream& os, addressing how) {
    switch (how) {
    case addressing::lid:
        return os << "lid";
    case addressing::gid:
        return os << "gid";
    case addressing::gid_and_lid:
        return os << "gid_and_lid";
    }
    return os << "?";
}

qp_endpoint endpoint_of(ibv_qp& qp) {
    return {query_address(*qp.context), qp.qp_num};
}

void modify_qp(ibv_qp& qp, ibv_qp_attr& attr, int mask) {
    check(ibv_modify_qp(&qp, &attr, mask), "ibv_modify_qp", describe(&qp));
}

void qp_to_init(ibv_qp& qp, access qp_access) {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_INIT;
    attr.pkey_index = 0;
    attr.port_num = 1;
    attr.qp_access_flags = static_cast<unsigned>(to_ibv(qp_access));
    modify_qp(qp, attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

ibv_qp_attr rtr_attr(const qp_endpoint& remote, addressing how) noexcept {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_RTR;
    attr.path_mtu = IBV_MTU_4096;
    attr.dest_qp_num = remote.qpn;
    attr.rq_psn = 0;
    attr.max_dest_rd_atomic = 1;
    attr.min_rnr_timer = 12;
    attr.ah_attr.port_num = 1;
    attr.ah_attr.dlid = how == addressing::gid ? 0 : remote.address.lid;
    if (how != addressing::lid) {
        attr.ah_attr.is_global = 1;
        attr.ah_attr.grh.dgid = remote.address.gid;
        attr.ah_attr.grh.sgid_index = 0;
        attr.ah_attr.grh.hop_limit = 1;
    }
    return attr;
}

void qp_to_rtr(ibv_qp& qp, const qp_endpoint& remote, addressing how) {
    ibv_qp_attr attr = rtr_attr(remote, how);
    modify_qp(qp, attr, qp.qp_type == IBV_QPT_UC ? uc_rtr_mask : rtr_mask);
}

void qp_to_rts(ibv_qp& qp) {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_RTS;
    attr.sq_psn = 0;
    attr.timeout = 14;
    attr.retry_cnt = 7;
    attr.rnr_retry = 7;
    attr.max_rd_atomic = 1;
    constexpr int uc_mask = IBV_QP_STATE | IBV_QP_SQ_PSN;
    modify_qp(qp, attr,
              qp.qp_type == IBV_QPT_UC ? uc_mask
                                       : uc_mask | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                                             IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC);
}

void qp_to_reset(ibv_qp& qp) {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_RESET;
    modify_qp(qp, attr, IBV_QP_STATE);
}

void connect_qp(ibv_qp& qp, const qp_endpoint& remote, access qp_access, addressing how) {
    qp_to_init(qp, qp_access);
    qp_to_rtr(qp, remote, how);
    qp_to_rts(qp);
}

ibv_qp_state query_qp_state(ibv_qp& qp) {
    ibv_qp_attr attr{};
    ibv_qp_init_attr init{};
    check(ibv_query_qp(&qp, &attr, IBV_QP_STATE, &init), "ibv_query_qp", describe(&qp));
    return attr.qp_state;
}

rc_pair rc_pair::create(ibv_pd& pd_a, ibv_pd& pd_b, const rc_pair_options& opts) {
    rc_pair p;
    p.opts = opts;
    for (auto [end, pd] : {std::pair{&p.a, &pd_a}, std::pair{&p.b, &pd_b}}) {
        end->pd = pd;
        end->cq = create_cq(*pd->context, opts.cqe);
        ibv_qp_init_attr attr = rc_init_attr(*end->cq, *end->cq, opts.caps, opts.sig_all);
        attr.qp_type = opts.type;
        end->qp = create_qp(*pd, attr);
    }
    connect_qp(*p.a.qp, endpoint_of(*p.b.qp), opts.qp_access, opts.how);
    connect_qp(*p.b.qp, endpoint_of(*p.a.qp), opts.qp_access, opts.how);
    return p;
}

void rc_pair::reconnect(rc_end& end) {
    rc_end& other = &end == &a ? b : a;
    qp_to_reset(*end.qp);
    connect_qp(*end.qp, endpoint_of(*other.qp), opts.qp_access, opts.how);
}

void rc_pair::reconnect() {
    reconnect(a);
    reconnect(b);
}

// ---- completions and events -------------------------------------------------------------------

std::optional<ibv_wc> poll_now(ibv_cq& cq) {
    ibv_wc wc{};
    const int n = ibv_poll_cq(&cq, 1, &wc);
    if (n < 0) {
        throw verbs_error("ibv_poll_cq", -n, describe(cq.context));
    }
    if (n == 0) {
        return std::nullopt;
    }
    return wc;
}

std::optional<ibv_wc> poll_wait(ibv_cq& cq, std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
        if (auto wc = poll_now(cq)) {
            return wc;
        }
        if (clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

namespace {

/// poll() for input on `fd`; true if readable before `timeout`.
[[nodiscard]] bool wait_readable(int fd, std::chrono::milliseconds timeout, std::string_view what) {
    pollfd pfd{fd, POLLIN, 0};
    const int rc = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (rc < 0) {
        throw verbs_error("poll", last_errno(), what);
    }
    return rc > 0;
}

} // namespace

std::optional<async_event> wait_async_event(ibv_context& ctx, std::chrono::milliseconds timeout) {
    if (!wait_readable(ctx.async_fd, timeout, describe(&ctx))) {
        return std::nullopt;
    }
    ibv_async_event ev{};
    check(ibv_get_async_event(&ctx, &ev), "ibv_get_async_event", describe(&ctx));
    async_event out;
    out.type = ev.event_type;
    // the element is a union: which member is valid depends on the type
    switch (ev.event_type) {
    case IBV_EVENT_CQ_ERR:
        out.cq = ev.element.cq; // NOLINT(cppcoreguidelines-pro-type-union-access)
        break;
    case IBV_EVENT_QP_FATAL:
    case IBV_EVENT_QP_REQ_ERR:
    case IBV_EVENT_QP_ACCESS_ERR:
    case IBV_EVENT_COMM_EST:
    case IBV_EVENT_SQ_DRAINED:
    case IBV_EVENT_PATH_MIG:
    case IBV_EVENT_PATH_MIG_ERR:
    case IBV_EVENT_QP_LAST_WQE_REACHED:
        out.qp = ev.element.qp; // NOLINT(cppcoreguidelines-pro-type-union-access)
        break;
    case IBV_EVENT_SRQ_ERR:
    case IBV_EVENT_SRQ_LIMIT_REACHED:
        out.srq = ev.element.srq; // NOLINT(cppcoreguidelines-pro-type-union-access)
        break;
    case IBV_EVENT_PORT_ACTIVE:
    case IBV_EVENT_PORT_ERR:
    case IBV_EVENT_LID_CHANGE:
    case IBV_EVENT_PKEY_CHANGE:
    case IBV_EVENT_SM_CHANGE:
    case IBV_EVENT_CLIENT_REREGISTER:
    case IBV_EVENT_GID_CHANGE:
        out.port = ev.element.port_num; // NOLINT(cppcoreguidelines-pro-type-union-access)
        break;
    default:
        break;
    }
    ibv_ack_async_event(&ev);
    return out;
}

std::optional<ibv_cq*> wait_cq_event(ibv_comp_channel& channel, std::chrono::milliseconds timeout) {
    if (!wait_readable(channel.fd, timeout, describe(channel.context))) {
        return std::nullopt;
    }
    ibv_cq* cq = nullptr;
    void* cq_context = nullptr;
    errno = 0;
    if (ibv_get_cq_event(&channel, &cq, &cq_context) != 0) {
        throw verbs_error("ibv_get_cq_event", last_errno(), describe(channel.context));
    }
    ibv_ack_cq_events(cq, 1);
    return cq;
}

// ---- work requests ----------------------------------------------------------------------------

std::uint64_t addr_of(const void* p) noexcept {
    return std::bit_cast<std::uintptr_t>(p);
}

ibv_sge sge(const ibv_mr& mr, std::span<const std::byte> part) noexcept {
    return {addr_of(part.data()), static_cast<std::uint32_t>(part.size()), mr.lkey};
}

ibv_send_wr rdma_wr(ibv_wr_opcode opcode, std::span<ibv_sge> sges, std::uint64_t remote_addr,
                    std::uint32_t rkey, unsigned flags, std::uint32_t imm) noexcept {
    ibv_send_wr wr{};
    wr.opcode = opcode;
    wr.sg_list = sges.data();
    wr.num_sge = static_cast<int>(sges.size());
    wr.send_flags = flags;
    // NOLINTBEGIN(cppcoreguidelines-pro-type-union-access): the opcode selects the member
    wr.imm_data = htonl(imm);
    wr.wr.rdma.remote_addr = remote_addr;
    wr.wr.rdma.rkey = rkey;
    // NOLINTEND(cppcoreguidelines-pro-type-union-access)
    return wr;
}

ibv_send_wr atomic_wr(ibv_wr_opcode opcode, ibv_sge& result, std::uint64_t remote_addr,
                      std::uint32_t rkey, std::uint64_t compare_add, std::uint64_t swap,
                      unsigned flags) noexcept {
    ibv_send_wr wr{};
    wr.opcode = opcode;
    wr.sg_list = &result;
    wr.num_sge = 1;
    wr.send_flags = flags;
    // NOLINTBEGIN(cppcoreguidelines-pro-type-union-access): the opcode selects the member
    wr.wr.atomic.remote_addr = remote_addr;
    wr.wr.atomic.rkey = rkey;
    wr.wr.atomic.compare_add = compare_add;
    wr.wr.atomic.swap = swap;
    // NOLINTEND(cppcoreguidelines-pro-type-union-access)
    return wr;
}

ibv_send_wr send_wr(ibv_wr_opcode opcode, std::span<ibv_sge> sges, unsigned flags,
                    std::uint32_t imm) noexcept {
    ibv_send_wr wr{};
    wr.opcode = opcode;
    wr.sg_list = sges.data();
    wr.num_sge = static_cast<int>(sges.size());
    wr.send_flags = flags;
    wr.imm_data = htonl(imm); // NOLINT(cppcoreguidelines-pro-type-union-access)
    return wr;
}

ibv_recv_wr recv_wr(std::span<ibv_sge> sges, std::uint64_t wr_id) noexcept {
    ibv_recv_wr wr{};
    wr.wr_id = wr_id;
    wr.sg_list = sges.data();
    wr.num_sge = static_cast<int>(sges.size());
    return wr;
}

std::uint32_t imm_of(const ibv_wc& wc) noexcept {
    return ntohl(wc.imm_data); // NOLINT(cppcoreguidelines-pro-type-union-access)
}

} // namespace dibs::verbs

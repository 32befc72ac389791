// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance: the dibs_rdma driver (with the dibs provider) against the verbs it
// implements, run inside the VM by tests/verbs/run-conformance.sh.
//
// This file: the module, and the suites device, pd, mr, cq and qp. The data path is in
// test_data.cpp (rdma_write, rdma_read, atomic, send), error handling in test_errors.cpp
// (errors, fuzz), several devices and processes in test_fabric.cpp (cross_device, lifecycle,
// removal). Without the devices (outside the VM) every suite is skipped.
#define BOOST_TEST_MODULE verbs_conformance
#include "conformance.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

namespace dibs::conformance {
namespace {

namespace bdata = boost::unit_test::data;

const std::array all_devices{lo0, lo1, lo2};

/// Checks that `f` throws verbs_error with errno `err`.
template <class F>
void check_fails_with(F&& f, int err) {
    try {
        std::forward<F>(f)();
        BOOST_ERROR("expected errno " << err << " (" << std::strerror(err) // NOLINT(*-mt-unsafe)
                                      << "), got success");
    } catch (const verbs_error& e) {
        BOOST_TEST(e.error() == err, e.what());
    }
}

/// The QP state after ibv_query_qp, by name.
std::string_view state_of(ibv_qp& qp) {
    return name(query_qp_state(qp));
}

// ---- device -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(device, *utf::precondition(devices_present{{lo0, lo1, lo2}}))

BOOST_AUTO_TEST_CASE(lists_every_dibs_device) {
    const device_list list = device_list::get();
    for (const std::string_view dev : all_devices) {
        BOOST_TEST(list.find(dev) != nullptr, dev);
    }
}

BOOST_DATA_TEST_CASE(port_is_active_ib_with_a_lid, bdata::make(all_devices), dev) {
    const context_ptr ctx = open_device(dev);
    const ibv_port_attr port = query_port(*ctx);
    BOOST_TEST(port.state == IBV_PORT_ACTIVE);
    BOOST_TEST(port.link_layer == IBV_LINK_LAYER_INFINIBAND);
    BOOST_TEST(port.lid != 0);
    BOOST_TEST(port.active_mtu == IBV_MTU_4096);
    BOOST_TEST(port.gid_tbl_len == 1);
}

BOOST_AUTO_TEST_CASE(lids_are_unique) {
    std::set<std::uint16_t> lids;
    for (const std::string_view dev : all_devices) {
        const context_ptr ctx = open_device(dev);
        lids.insert(query_port(*ctx).lid);
    }
    BOOST_TEST(lids.size() == all_devices.size());
}

BOOST_DATA_TEST_CASE(gid0_is_the_dibs_gid, bdata::make(all_devices), dev) {
    const context_ptr ctx = open_device(dev);
    const ibv_gid gid = query_gid(*ctx, 0);
    const ibv_gid want = sysfs_gid(dev);
    BOOST_TEST(std::memcmp(&gid, &want, sizeof(gid)) == 0);
}

BOOST_AUTO_TEST_CASE(attributes_report_the_limits) {
    const context_ptr ctx = open_device(lo0);
    ibv_device_attr attr{};
    BOOST_REQUIRE_EQUAL(ibv_query_device(ctx.get(), &attr), 0);
    BOOST_TEST(attr.phys_port_cnt == 1);
    BOOST_TEST(attr.max_qp_wr == 4096);
    BOOST_TEST(attr.max_sge == 16);
    BOOST_TEST(attr.max_cqe == 65536);
    BOOST_TEST(attr.max_mr_size == (1ULL << 31));
    BOOST_TEST(attr.max_srq == 1024);
    BOOST_TEST(attr.max_srq_wr == 4096);
    BOOST_TEST(attr.max_srq_sge == 16);
    // exactly what is there: a checked cur_qp_state in modify_qp, and a system image GUID
    BOOST_TEST(attr.device_cap_flags ==
               static_cast<unsigned>(IBV_DEVICE_CURR_QP_STATE_MOD | IBV_DEVICE_SYS_IMAGE_GUID));
    BOOST_TEST(attr.sys_image_guid != 0U);
    BOOST_TEST(attr.atomic_cap != IBV_ATOMIC_NONE);
    BOOST_TEST(attr.max_qp_rd_atom >= 1);
    std::uint16_t pkey = 0;
    BOOST_REQUIRE_EQUAL(ibv_query_pkey(ctx.get(), 1, 0, &pkey), 0);
    BOOST_TEST(pkey == 0xffff);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- pd ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(pd, *utf::precondition(devices_present{{lo0}}))

BOOST_AUTO_TEST_CASE(many_pds_come_and_go) {
    const context_ptr ctx = open_device(lo0);
    std::vector<pd_ptr> pds;
    pds.reserve(48);
    for (int i = 0; i < 32; ++i) {
        pds.push_back(alloc_pd(*ctx));
    }
    pds.erase(pds.begin(), pds.begin() + 16);
    for (int i = 0; i < 16; ++i) {
        pds.push_back(alloc_pd(*ctx));
    }
    BOOST_TEST(pds.size() == 32U);
}

/// Allocates with `make` until it fails; returns how many it made and the errno.
template <class Ptr, class Make>
std::pair<std::size_t, int> allocate_until_failure(Make make, std::size_t at_most) {
    std::vector<Ptr> held;
    held.reserve(at_most);
    errno = 0;
    while (held.size() < at_most) {
        auto* p = make();
        if (p == nullptr) {
            return {held.size(), errno};
        }
        held.emplace_back(p);
    }
    return {held.size(), 0};
}

BOOST_AUTO_TEST_CASE(the_device_limits_pds_and_cqs) {
    const context_ptr ctx = open_device(lo0);
    ibv_device_attr attr{};
    BOOST_REQUIRE_EQUAL(ibv_query_device(ctx.get(), &attr), 0);
    const auto max_pd = static_cast<std::size_t>(attr.max_pd);
    const auto [pds, pd_err] =
        allocate_until_failure<pd_ptr>([&] { return ibv_alloc_pd(ctx.get()); }, max_pd + 1);
    BOOST_TEST(pds == max_pd);
    BOOST_TEST(pd_err == ENOMEM);
    const auto max_cq = static_cast<std::size_t>(attr.max_cq);
    const auto [cqs, cq_err] = allocate_until_failure<cq_ptr>(
        [&] { return ibv_create_cq(ctx.get(), 1, nullptr, nullptr, 0); }, max_cq + 1);
    BOOST_TEST(cqs == max_cq);
    BOOST_TEST(cq_err == ENOMEM);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- mr ---------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(mr, lo0_device, *utf::precondition(devices_present{{lo0}}))

const std::array<access, 5> remote_kinds{
    access::local_write | access::remote_write,
    access::remote_read,
    access::local_write | access::remote_atomic,
    access::local_write | access::remote_read | access::remote_write,
    all_access,
};

BOOST_AUTO_TEST_CASE(lkey_equals_rkey_and_keys_are_unique) {
    std::vector<std::byte> mem(std::size_t{3} * 4096);
    std::set<std::uint32_t> keys;
    std::vector<mr_ptr> mrs;
    for (const access flags : {access::none, access::local_write, all_access}) {
        mrs.push_back(reg_mr(*pd, std::span(mem).subspan(mrs.size() * 4096, 4096), flags));
        BOOST_TEST(mrs.back()->lkey == mrs.back()->rkey);
        BOOST_TEST(mrs.back()->length == 4096U);
        keys.insert(mrs.back()->lkey);
    }
    // the same memory registered twice is two MRs
    mrs.push_back(reg_mr(*pd, std::span(mem).subspan(0, 4096), all_access));
    keys.insert(mrs.back()->lkey);
    BOOST_TEST(keys.size() == mrs.size());
}

BOOST_DATA_TEST_CASE(remote_access_mr_is_one_dmb, bdata::xrange(remote_kinds.size()), i) {
    const unsigned before = dmbs(lo0);
    std::vector<std::byte> mem(10000);
    {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index)
        const mr_ptr mr = reg_mr(*pd, mem, remote_kinds[i]);
        BOOST_TEST(dmbs(lo0) == before + 1);
        const mr_ptr second = reg_mr(*pd, std::span(mem).subspan(1, 5), access::remote_read);
        BOOST_TEST(dmbs(lo0) == before + 2);
    }
    BOOST_TEST(dmbs(lo0) == before);
}

BOOST_AUTO_TEST_CASE(local_only_mr_is_no_dmb) {
    const unsigned before = dmbs(lo0);
    std::vector<std::byte> mem(10000);
    const mr_ptr none = reg_mr(*pd, mem, access::none);
    const mr_ptr local = reg_mr(*pd, mem, access::local_write);
    BOOST_TEST(dmbs(lo0) == before);
}

BOOST_AUTO_TEST_CASE(zero_length_is_einval) {
    std::vector<std::byte> mem(16);
    check_fails_with([&] { (void)reg_mr(*pd, std::span(mem).subspan(0, 0), access::none); },
                     EINVAL);
    check_fails_with([&] { (void)reg_mr(*pd, std::span(mem).subspan(0, 0), all_access); }, EINVAL);
}

BOOST_AUTO_TEST_CASE(remote_write_or_atomic_need_local_write) {
    // the verbs rule (checked by ib_core): remote write/atomic imply local write
    std::vector<std::byte> mem(64);
    check_fails_with([&] { (void)reg_mr(*pd, mem, access::remote_write); }, EINVAL);
    check_fails_with([&] { (void)reg_mr(*pd, mem, access::remote_atomic); }, EINVAL);
}

BOOST_AUTO_TEST_CASE(unaligned_and_odd_sized_regions) {
    std::vector<std::byte> mem(std::size_t{3} * 4096);
    for (const std::size_t off : {std::size_t{1}, std::size_t{4095}, std::size_t{4097}}) {
        for (const std::size_t len : {std::size_t{1}, std::size_t{7}, std::size_t{4097}}) {
            const mr_ptr mr = reg_mr(*pd, std::span(mem).subspan(off, len), all_access);
            BOOST_TEST(mr->length == len);
            BOOST_TEST(mr->addr == std::span(mem).subspan(off).data());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- cq ---------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(cq, lo0_device, *utf::precondition(devices_present{{lo0}}))

BOOST_AUTO_TEST_CASE(sizes) {
    BOOST_TEST(create_cq(*ctx, 1)->cqe >= 1);
    BOOST_TEST(create_cq(*ctx, 65536)->cqe >= 65536);
    check_fails_with([&] { (void)create_cq(*ctx, 65537); }, EINVAL);
}

BOOST_AUTO_TEST_CASE(overrun_raises_cq_err) {
    rc_pair_options opts;
    opts.cqe = 4;
    rc_pair pair = rc_pair::create(*pd, *pd, opts);
    buffer src(*pd, 64, access::local_write);
    buffer dst(*pd, 64, all_access);
    ibv_sge sg = src.sge(0, 8);
    for (std::uint64_t i = 0; i < 6; ++i) {
        BOOST_REQUIRE_EQUAL(
            post(*pair.a.qp, rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, dst.addr(), dst.key()), i), 0);
    }
    const std::optional<async_event> ev = wait_async_event(*ctx, 5s);
    BOOST_REQUIRE_MESSAGE(ev.has_value(), "no async event after overrunning the CQ");
    BOOST_TEST(ev->type == IBV_EVENT_CQ_ERR, ibv_event_type_str(ev->type));
    BOOST_TEST(ev->cq == pair.a.cq.get());
    const std::vector<ibv_wc> wcs = drain(*pair.a.cq);
    BOOST_TEST(wcs.size() == 4U);
    for (std::size_t i = 0; i < wcs.size(); ++i) {
        BOOST_TEST(wcs[i].wr_id == i);
        BOOST_TEST(name(wcs[i].status) == name(IBV_WC_SUCCESS));
    }
    // one event per overrun, not one per dropped completion
    BOOST_TEST(!wait_async_event(*ctx, quiet_time).has_value());
}

/// A pair whose CQs report to a completion channel.
struct channel_pair : lo0_device {
    channel_pair()
        : channel(create_comp_channel(*ctx))
        , cq_a(create_cq(*ctx, 64, channel.get()))
        , cq_b(create_cq(*ctx, 64, channel.get()))
        , qp_a(create_rc_qp(*pd, *cq_a, *cq_a))
        , qp_b(create_rc_qp(*pd, *cq_b, *cq_b))
        , src(*pd, 16384, access::local_write)
        , dst(*pd, 16384, all_access) {
        connect_qp(*qp_a, endpoint_of(*qp_b));
        connect_qp(*qp_b, endpoint_of(*qp_a));
    }

    /// A SEND of `len` bytes from a to b (b has a receive posted), optionally solicited.
    void send(std::size_t len, bool solicited) {
        ibv_sge rsg = dst.sge(0, len);
        BOOST_REQUIRE_EQUAL(post_recv(*qp_b, {&rsg, 1}, 7), 0);
        ibv_sge sg = src.sge(0, len);
        const unsigned flags = IBV_SEND_SIGNALED | (solicited ? unsigned{IBV_SEND_SOLICITED} : 0U);
        (void)post_and_complete(*qp_a, *cq_a, send_wr(IBV_WR_SEND, {&sg, 1}, flags),
                                IBV_WC_SUCCESS);
    }

    comp_channel_ptr channel;
    cq_ptr cq_a;
    cq_ptr cq_b;
    qp_ptr qp_a;
    qp_ptr qp_b;
    buffer src;
    buffer dst;
};

BOOST_FIXTURE_TEST_CASE(completion_channel_next_completion, channel_pair) {
    BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cq_b.get(), 0), 0);
    send(100, false);
    const std::optional<ibv_cq*> cq = wait_cq_event(*channel, recv_timeout);
    BOOST_REQUIRE_MESSAGE(cq.has_value(), "no completion event");
    BOOST_TEST(*cq == cq_b.get());
    const ibv_wc wc = completion_now(*cq_b);
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(wc.opcode == IBV_WC_RECV);
    // not armed again: no event
    send(100, false);
    (void)completion_within(*cq_b);
    BOOST_TEST(!wait_cq_event(*channel, quiet_time).has_value());
    // armed again
    BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cq_b.get(), 0), 0);
    send(1, false);
    BOOST_TEST(wait_cq_event(*channel, recv_timeout).value_or(nullptr) == cq_b.get());
    (void)completion_within(*cq_b);
}

BOOST_FIXTURE_TEST_CASE(completion_channel_solicited_only, channel_pair) {
    BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cq_b.get(), 1), 0);
    send(100, false);
    (void)completion_within(*cq_b);
    BOOST_TEST(!wait_cq_event(*channel, quiet_time).has_value(),
               "an unsolicited completion raised a solicited-only event");
    send(10000, true); // several ring slots: the last one carries the flag
    BOOST_TEST(wait_cq_event(*channel, recv_timeout).value_or(nullptr) == cq_b.get());
    const ibv_wc wc = completion_within(*cq_b);
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
}

BOOST_FIXTURE_TEST_CASE(solicited_only_fires_on_errors, channel_pair) {
    BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cq_a.get(), 1), 0);
    ibv_sge sg = src.sge(0, 8);
    BOOST_REQUIRE_EQUAL(post(*qp_a, rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, dst.addr(), 0xdead0000)),
                        0);
    BOOST_TEST(wait_cq_event(*channel, recv_timeout).value_or(nullptr) == cq_a.get(),
               "an error completion raised no solicited-only event");
    BOOST_TEST(name(completion_now(*cq_a).status) == name(IBV_WC_REM_ACCESS_ERR));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- qp ---------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(qp, lo0_device, *utf::precondition(devices_present{{lo0}}))

BOOST_AUTO_TEST_CASE(rc_qp_starts_in_reset_and_owns_one_dmb) {
    const cq_ptr cq = create_cq(*ctx, 16);
    const unsigned before = dmbs(lo0);
    {
        const qp_ptr qp = create_rc_qp(*pd, *cq, *cq);
        BOOST_TEST(dmbs(lo0) == before + 1);
        const qp_ptr qp2 = create_rc_qp(*pd, *cq, *cq);
        BOOST_TEST(dmbs(lo0) == before + 2);
        BOOST_TEST(qp->qp_num != qp2->qp_num);
        BOOST_TEST(state_of(*qp) == "RESET");
        ibv_qp_attr attr{};
        ibv_qp_init_attr init{};
        BOOST_REQUIRE_EQUAL(ibv_query_qp(qp.get(), &attr, IBV_QP_STATE | IBV_QP_CAP, &init), 0);
        BOOST_TEST(init.qp_type == IBV_QPT_RC);
        BOOST_TEST(init.cap.max_send_wr >= 64U);
        BOOST_TEST(init.cap.max_recv_wr >= 64U);
    }
    BOOST_TEST(dmbs(lo0) == before);
}

// UC is suite uc's
BOOST_DATA_TEST_CASE(other_qp_types_are_unsupported, bdata::make({IBV_QPT_UD}), type) {
    const cq_ptr cq = create_cq(*ctx, 16);
    ibv_qp_init_attr attr = rc_init_attr(*cq, *cq, {});
    attr.qp_type = type;
    check_fails_with([&] { (void)create_qp(*pd, attr); }, EOPNOTSUPP);
}

/// A capability and whether the driver accepts it.
struct cap_case {
    const char* what;
    qp_caps caps;
    bool ok;
};

std::ostream& operator<<(std::ostream& os, const cap_case& c) {
    return os << c.what;
}

qp_caps with(void (*set)(qp_caps&)) {
    qp_caps c;
    set(c);
    return c;
}

const std::array cap_cases{
    cap_case{"max_send_wr=4096", with([](qp_caps& c) { c.max_send_wr = 4096; }), true},
    cap_case{"max_recv_wr=4096", with([](qp_caps& c) { c.max_recv_wr = 4096; }), true},
    cap_case{"max_inline=256", with([](qp_caps& c) { c.max_inline_data = 256; }), true},
    cap_case{"max_send_wr=0", with([](qp_caps& c) { c.max_send_wr = 0; }), true},
    cap_case{"max_recv_wr=0", with([](qp_caps& c) { c.max_recv_wr = 0; }), true},
    cap_case{"both queues 0", with([](qp_caps& c) { c.max_send_wr = c.max_recv_wr = 0; }), true},
    cap_case{"max_send_wr=4097", with([](qp_caps& c) { c.max_send_wr = 4097; }), false},
    cap_case{"max_recv_wr=4097", with([](qp_caps& c) { c.max_recv_wr = 4097; }), false},
    cap_case{"max_send_sge=17", with([](qp_caps& c) { c.max_send_sge = 17; }), false},
    cap_case{"max_recv_sge=17", with([](qp_caps& c) { c.max_recv_sge = 17; }), false},
    cap_case{"max_inline=257", with([](qp_caps& c) { c.max_inline_data = 257; }), false},
};

BOOST_DATA_TEST_CASE(creation_checks_the_capabilities, bdata::make(cap_cases), c) {
    const cq_ptr cq = create_cq(*ctx, 16);
    if (c.ok) {
        BOOST_CHECK_NO_THROW((void)create_rc_qp(*pd, *cq, *cq, c.caps));
    } else {
        check_fails_with([&] { (void)create_rc_qp(*pd, *cq, *cq, c.caps); }, EINVAL);
    }
}

/// Two unconnected QPs on dibs_lo0, and a buffer to post from.
struct qp_pair_fixture : lo0_device {
    qp_pair_fixture()
        : cq(create_cq(*ctx, 256))
        , qp(create_rc_qp(*pd, *cq, *cq, small_rq()))
        , peer(create_rc_qp(*pd, *cq, *cq))
        , buf(*pd, 4096, all_access) {}

    static qp_caps small_rq() {
        qp_caps caps;
        caps.max_recv_wr = 4;
        return caps;
    }

    [[nodiscard]] int try_modify(ibv_qp_attr attr, int mask) const {
        return ibv_modify_qp(qp.get(), &attr, mask);
    }

    [[nodiscard]] int try_send() {
        ibv_sge sg = buf.sge(0, 16);
        return post(*qp, rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, buf.addr(), buf.key()));
    }

    cq_ptr cq;
    qp_ptr qp;
    qp_ptr peer;
    buffer buf;
};

ibv_qp_attr init_attr() {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_INIT;
    attr.port_num = 1;
    attr.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
    return attr;
}
constexpr int init_mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;

ibv_qp_attr rts_attr() {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_RTS;
    attr.timeout = 14;
    attr.retry_cnt = 7;
    attr.rnr_retry = 7;
    attr.max_rd_atomic = 1;
    return attr;
}
constexpr int rts_mask = IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                         IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC;

BOOST_FIXTURE_TEST_CASE(state_machine_rejects_bad_transitions, qp_pair_fixture) {
    const qp_endpoint remote = endpoint_of(*peer);
    // from RESET only INIT (with pkey index, port and access flags) is allowed
    BOOST_TEST(try_modify(rts_attr(), rts_mask) == EINVAL);
    BOOST_TEST(try_modify(rtr_attr(remote, addressing::lid), rtr_mask) == EINVAL);
    BOOST_TEST(try_modify(init_attr(), init_mask & ~IBV_QP_ACCESS_FLAGS) == EINVAL);
    ibv_qp_attr bad_port = init_attr();
    bad_port.port_num = 2;
    BOOST_TEST(try_modify(bad_port, init_mask) == EINVAL);
    BOOST_TEST(state_of(*qp) == "RESET");
    ibv_qp_attr wrong_cur = init_attr();
    wrong_cur.cur_qp_state = IBV_QPS_INIT;
    BOOST_TEST(try_modify(wrong_cur, init_mask | IBV_QP_CUR_STATE) == EINVAL);
    BOOST_TEST(try_modify(init_attr(), init_mask) == 0);
    BOOST_TEST(state_of(*qp) == "INIT");
    // INIT -> RTS skips RTR; RTR needs its attributes
    BOOST_TEST(try_modify(rts_attr(), rts_mask) == EINVAL);
    BOOST_TEST(try_modify(rtr_attr(remote, addressing::lid), rtr_mask & ~IBV_QP_DEST_QPN) ==
               EINVAL);
    BOOST_TEST(try_modify(rtr_attr(remote, addressing::lid), rtr_mask & ~IBV_QP_AV) == EINVAL);
    BOOST_TEST(state_of(*qp) == "INIT");
    BOOST_TEST(try_modify(rtr_attr(remote, addressing::lid), rtr_mask) == 0);
    BOOST_TEST(state_of(*qp) == "RTR");
    BOOST_TEST(try_modify(rts_attr(), rts_mask & ~IBV_QP_SQ_PSN) == EINVAL);
    BOOST_TEST(state_of(*qp) == "RTR");
    BOOST_TEST(try_modify(rts_attr(), rts_mask) == 0);
    BOOST_TEST(state_of(*qp) == "RTS");
    // back to RESET and up again
    qp_to_reset(*qp);
    BOOST_TEST(state_of(*qp) == "RESET");
    BOOST_TEST(try_modify(init_attr(), init_mask) == 0);
}

BOOST_FIXTURE_TEST_CASE(post_send_before_rts_is_einval, qp_pair_fixture) {
    BOOST_TEST(try_send() == EINVAL); // RESET
    qp_to_init(*qp, remote_all);
    BOOST_TEST(try_send() == EINVAL); // INIT
    qp_to_rtr(*qp, endpoint_of(*peer), addressing::lid);
    BOOST_TEST(try_send() == EINVAL); // RTR
    BOOST_TEST(drain(*cq).empty());
    ibv_sge sg = buf.sge(0, 16);
    ibv_send_wr wr = rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, buf.addr(), buf.key());
    ibv_send_wr* bad = nullptr;
    BOOST_TEST(ibv_post_send(qp.get(), &wr, &bad) == EINVAL);
    BOOST_TEST(bad == &wr);
}

BOOST_FIXTURE_TEST_CASE(post_recv_needs_init, qp_pair_fixture) {
    ibv_sge sg = buf.sge(0, 16);
    BOOST_TEST(post_recv(*qp, {&sg, 1}) == EINVAL);
    qp_to_init(*qp, remote_all);
    BOOST_TEST(post_recv(*qp, {&sg, 1}) == 0);
}

BOOST_FIXTURE_TEST_CASE(too_many_receives_is_enomem, qp_pair_fixture) {
    qp_to_init(*qp, remote_all);
    std::array<ibv_sge, 6> sges{};
    std::array<ibv_recv_wr, 6> wrs{};
    for (std::size_t i = 0; i < wrs.size(); ++i) {
        sges.at(i) = buf.sge(i * 16, 16);
        wrs.at(i) = recv_wr({&sges.at(i), 1}, i);
        wrs.at(i).next = i + 1 < wrs.size() ? &wrs.at(i + 1) : nullptr;
    }
    ibv_recv_wr* bad = nullptr;
    BOOST_TEST(ibv_post_recv(qp.get(), wrs.data(), &bad) == ENOMEM);
    BOOST_TEST(bad == &wrs.at(4)); // max_recv_wr is 4
    BOOST_TEST(post_recv(*qp, {sges.data(), 1}) == ENOMEM);
    // the four queued receives are flushed by the error state
    ibv_qp_attr err{};
    err.qp_state = IBV_QPS_ERR;
    modify_qp(*qp, err, IBV_QP_STATE);
    const std::vector<ibv_wc> wcs = drain(*cq);
    BOOST_REQUIRE_EQUAL(wcs.size(), 4U);
    for (std::size_t i = 0; i < wcs.size(); ++i) {
        BOOST_TEST(wcs[i].wr_id == i);
        BOOST_TEST(name(wcs[i].status) == name(IBV_WC_WR_FLUSH_ERR));
    }
}

BOOST_FIXTURE_TEST_CASE(too_many_sges_is_einval, lo0_pair) {
    buffer buf(*pd, 4096, all_access);
    std::vector<ibv_sge> sges(17, buf.sge(0, 1));
    BOOST_TEST(post(*pair.a.qp, rdma_wr(IBV_WR_RDMA_WRITE, sges, buf.addr(), buf.key())) == EINVAL);
    BOOST_TEST(post_recv(*pair.a.qp, sges) == EINVAL);
    BOOST_TEST(drain(*pair.a.cq).empty());
    BOOST_TEST(state_of(*pair.a.qp) == "RTS");
}

BOOST_FIXTURE_TEST_CASE(modify_to_err_flushes_everything, lo0_pair) {
    buffer buf(*pd, 4096, all_access);
    for (std::uint64_t i = 0; i < 3; ++i) {
        ibv_sge sg = buf.sge(i * 100, 100);
        BOOST_REQUIRE_EQUAL(post_recv(*pair.a.qp, {&sg, 1}, 100 + i), 0);
    }
    ibv_qp_attr err{};
    err.qp_state = IBV_QPS_ERR;
    modify_qp(*pair.a.qp, err, IBV_QP_STATE);
    BOOST_TEST(state_of(*pair.a.qp) == "ERR");
    std::vector<ibv_wc> wcs = drain(*pair.a.cq);
    BOOST_REQUIRE_EQUAL(wcs.size(), 3U);
    for (std::uint64_t i = 0; i < 3; ++i) {
        BOOST_TEST(wcs[i].wr_id == 100 + i);
        BOOST_TEST(name(wcs[i].status) == name(IBV_WC_WR_FLUSH_ERR));
    }
    // later receives and sends (signaled or not) are flushed at once
    ibv_sge sg = buf.sge(0, 8);
    BOOST_REQUIRE_EQUAL(post_recv(*pair.a.qp, {&sg, 1}, 200), 0);
    BOOST_TEST(completion_now(*pair.a.cq).wr_id == 200U);
    (void)post_and_complete(*pair.a.qp, *pair.a.cq,
                            rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, buf.addr(), buf.key(), 0),
                            IBV_WC_WR_FLUSH_ERR, 201);
    // RESET and reconnect: works again
    pair.reconnect();
    BOOST_TEST(state_of(*pair.a.qp) == "RTS");
    (void)post_and_complete(*pair.a.qp, *pair.a.cq,
                            rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, buf.addr(100), buf.key()),
                            IBV_WC_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(query_reports_the_connection, lo0_pair) {
    ibv_qp_attr attr{};
    ibv_qp_init_attr init{};
    BOOST_REQUIRE_EQUAL(
        ibv_query_qp(pair.a.qp.get(), &attr,
                     IBV_QP_STATE | IBV_QP_DEST_QPN | IBV_QP_AV | IBV_QP_ACCESS_FLAGS | IBV_QP_PORT,
                     &init),
        0);
    BOOST_TEST(name(attr.qp_state) == "RTS");
    BOOST_TEST(attr.dest_qp_num == pair.b.qp->qp_num);
    BOOST_TEST(attr.ah_attr.dlid == query_port(*ctx).lid);
    BOOST_TEST(attr.qp_access_flags == static_cast<unsigned>(to_ibv(remote_all)));
    BOOST_TEST(attr.port_num == 1);
    BOOST_TEST(init.qp_type == IBV_QPT_RC);
}

// Every attribute a QP was given is reported as given (as rxe does), also those that the
// transport does not act on: paths, timers, retries and PSNs belong to a wire, which dibs has
// not. A path MTU that IB does not have is EINVAL.
BOOST_FIXTURE_TEST_CASE(query_reports_what_was_set, qp_pair_fixture) {
    BOOST_REQUIRE_EQUAL(try_modify(init_attr(), init_mask), 0);
    ibv_qp_attr rtr = rtr_attr(endpoint_of(*peer), addressing::gid_and_lid);
    for (const int bad : {0, 6}) {
        rtr.path_mtu = static_cast<ibv_mtu>(bad);
        BOOST_TEST(try_modify(rtr, rtr_mask) == EINVAL, "path_mtu " << bad);
    }
    BOOST_TEST(state_of(*qp) == "INIT");
    rtr.path_mtu = IBV_MTU_1024;
    rtr.rq_psn = 0x123456;
    rtr.max_dest_rd_atomic = 3;
    rtr.min_rnr_timer = 17;
    rtr.ah_attr.sl = 5;
    rtr.ah_attr.static_rate = IBV_RATE_10_GBPS;
    rtr.ah_attr.grh.hop_limit = 9;
    rtr.ah_attr.grh.traffic_class = 0x28;
    rtr.ah_attr.grh.flow_label = 0x12345;
    BOOST_REQUIRE_EQUAL(try_modify(rtr, rtr_mask), 0);
    ibv_qp_attr rts = rts_attr();
    rts.sq_psn = 0xabcdef;
    rts.timeout = 18;
    rts.retry_cnt = 5;
    rts.rnr_retry = 3;
    rts.max_rd_atomic = 2;
    BOOST_REQUIRE_EQUAL(try_modify(rts, rts_mask), 0);

    ibv_qp_attr got{};
    ibv_qp_init_attr init{};
    BOOST_REQUIRE_EQUAL(ibv_query_qp(qp.get(), &got, rtr_mask | rts_mask, &init), 0);
    BOOST_TEST(name(got.qp_state) == "RTS");
    BOOST_TEST(got.path_mtu == IBV_MTU_1024);
    BOOST_TEST(got.rq_psn == 0x123456U);
    BOOST_TEST(got.sq_psn == 0xabcdefU);
    BOOST_TEST(got.max_dest_rd_atomic == 3);
    BOOST_TEST(got.max_rd_atomic == 2);
    BOOST_TEST(got.min_rnr_timer == 17);
    BOOST_TEST(got.timeout == 18);
    BOOST_TEST(got.retry_cnt == 5);
    BOOST_TEST(got.rnr_retry == 3);
    BOOST_TEST(got.dest_qp_num == peer->qp_num);
    BOOST_TEST(got.ah_attr.sl == 5);
    BOOST_TEST(got.ah_attr.static_rate == IBV_RATE_10_GBPS);
    BOOST_TEST(got.ah_attr.dlid == rtr.ah_attr.dlid);
    BOOST_TEST_REQUIRE(got.ah_attr.is_global == 1);
    BOOST_TEST(std::ranges::equal(got.ah_attr.grh.dgid.raw, rtr.ah_attr.grh.dgid.raw));
    BOOST_TEST(got.ah_attr.grh.sgid_index == 0);
    BOOST_TEST(got.ah_attr.grh.hop_limit == 9);
    BOOST_TEST(got.ah_attr.grh.traffic_class == 0x28);
    BOOST_TEST(got.ah_attr.grh.flow_label == 0x12345U);
    // an RTS -> RTS modify (from the state it names: IBV_DEVICE_CURR_QP_STATE_MOD) changes
    // what it sets, and nothing else
    ibv_qp_attr again{};
    again.qp_state = IBV_QPS_RTS;
    again.cur_qp_state = IBV_QPS_RTS;
    again.min_rnr_timer = 3;
    BOOST_REQUIRE_EQUAL(try_modify(again, IBV_QP_STATE | IBV_QP_CUR_STATE | IBV_QP_MIN_RNR_TIMER),
                        0);
    BOOST_REQUIRE_EQUAL(ibv_query_qp(qp.get(), &got, rtr_mask | rts_mask, &init), 0);
    BOOST_TEST(got.min_rnr_timer == 3);
    BOOST_TEST(got.timeout == 18);
    BOOST_TEST(got.path_mtu == IBV_MTU_1024);
}

/// Queue depths for zero_depth_queues.
struct depths {
    std::uint32_t send;
    std::uint32_t recv;
};

std::ostream& operator<<(std::ostream& os, const depths& d) {
    return os << "max_send_wr=" << d.send << " max_recv_wr=" << d.recv;
}

const std::array zero_depths{depths{0, 0}, depths{0, 16}, depths{16, 0}};

// A QP with a queue of 0 (qperf's RDMA tests create 0/0, 1024/0 and 0/1024; the spec and rxe
// allow it) is created, reports its depths, and is the target of RDMA WRITE, READ and
// atomics; posting to a queue it has not is ENOMEM, with bad_wr at the first WR.
BOOST_DATA_TEST_CASE(zero_depth_queues, bdata::make(zero_depths), depth) {
    const std::uint32_t send_wr_depth = depth.send;
    const std::uint32_t recv_wr_depth = depth.recv;
    const cq_ptr cq = create_cq(*ctx, 64);
    qp_caps caps;
    caps.max_send_wr = send_wr_depth;
    caps.max_recv_wr = recv_wr_depth;
    const qp_ptr target = create_rc_qp(*pd, *cq, *cq, caps);
    const qp_ptr requester = create_rc_qp(*pd, *cq, *cq);
    ibv_qp_attr attr{};
    ibv_qp_init_attr init{};
    BOOST_REQUIRE_EQUAL(ibv_query_qp(target.get(), &attr, IBV_QP_CAP, &init), 0);
    BOOST_TEST(init.cap.max_send_wr == send_wr_depth);
    BOOST_TEST(init.cap.max_recv_wr == recv_wr_depth);
    connect_qp(*target, endpoint_of(*requester));
    connect_qp(*requester, endpoint_of(*target));

    buffer local(*pd, 8192, all_access);
    buffer remote(*pd, 8192, all_access);
    ibv_sge sg = local.sge(0, 4096);
    (void)post_and_complete(*requester, *cq,
                            rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, remote.addr(), remote.key()),
                            IBV_WC_SUCCESS);
    check_bytes(remote.part(0, 4096), local.part(0, 4096), "written into the target");
    ibv_sge back = local.sge(4096, 4096);
    (void)post_and_complete(*requester, *cq,
                            rdma_wr(IBV_WR_RDMA_READ, {&back, 1}, remote.addr(), remote.key()),
                            IBV_WC_SUCCESS);
    check_bytes(local.part(4096, 4096), local.part(0, 4096), "read back from the target");
    ibv_sge result = local.sge(0, 8);
    (void)post_and_complete(
        *requester, *cq,
        atomic_wr(IBV_WR_ATOMIC_FETCH_AND_ADD, result, remote.addr(4096), remote.key(), 1, 0),
        IBV_WC_SUCCESS);

    ibv_sge one = local.sge(0, 16);
    ibv_send_wr wr = rdma_wr(IBV_WR_RDMA_WRITE, {&one, 1}, remote.addr(), remote.key());
    ibv_send_wr* bad_send = nullptr;
    const int sent = ibv_post_send(target.get(), &wr, &bad_send);
    BOOST_TEST(sent == (send_wr_depth == 0 ? ENOMEM : 0));
    if (send_wr_depth == 0) {
        BOOST_TEST(bad_send == &wr);
    } else {
        BOOST_TEST(name(completion_now(*cq).status) == name(IBV_WC_SUCCESS));
    }
    ibv_recv_wr rwr = recv_wr({&one, 1}, 7);
    ibv_recv_wr* bad_recv = nullptr;
    BOOST_TEST(ibv_post_recv(target.get(), &rwr, &bad_recv) == (recv_wr_depth == 0 ? ENOMEM : 0));
    check_no_completion(*cq);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace dibs::conformance

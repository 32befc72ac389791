// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance: error handling on one device (dut(): dibs_lo0 unless VERBS_CONFORMANCE_DEVICE
// names another) - suites errors and fuzz.
//
// A failed work request completes with an error status when post_send returns, moves the
// requester QP to the error state, writes nothing at the target (nor locally), and flushes
// the QP's posted receives and every later work request. The responder QP is not affected by
// a requester error; a receive error (buffer too small) moves the receiver QP to ERR.
#include "conformance.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

namespace dibs::conformance {
namespace {

namespace bdata = boost::unit_test::data;

constexpr std::uint64_t bad_wr_id = 0xbad;
constexpr std::uint64_t recv_wr_id = 0x4ec;

/// A key that names no MR (MR keys are allocated upwards from 1).
constexpr std::uint32_t no_such_key = 0xdead0000;

std::string_view state_of(ibv_qp& qp) {
    return name(query_qp_state(qp));
}

/// A connected pair on dut() with a requester buffer `local` and a target buffer.
struct error_fixture : lo0_pair {
    error_fixture() : local(*pd, 65536, all_access), target(*pd, 65536, all_access) {}

    ibv_qp& qa() { return *pair.a.qp; }
    ibv_qp& qb() { return *pair.b.qp; }
    ibv_cq& ca() { return *pair.a.cq; }
    ibv_cq& cb() { return *pair.b.cq; }

    /// Posts the bad `wr` on a and checks the requester error protocol: the error completion
    /// (in the CQ when post returns), a's posted receive flushed, a in ERR, later WRs flushed
    /// whether signaled or not, b untouched, and no byte of `local`, `target` and `also`
    /// changed.
    void expect_error(ibv_send_wr wr, ibv_wc_status status,
                      std::initializer_list<buffer*> also = {}) {
        std::vector<std::vector<std::byte>> before{local.data, target.data};
        for (buffer* b : also) {
            before.push_back(b->data);
        }
        ibv_sge rsg = local.sge(0, 64);
        BOOST_REQUIRE_EQUAL(post_recv(qa(), {&rsg, 1}, recv_wr_id), 0);
        BOOST_REQUIRE_EQUAL(post(qa(), wr, bad_wr_id), 0);
        const std::vector<ibv_wc> wcs = drain(ca());
        BOOST_TEST_REQUIRE(wcs.size() == 2U, "want the error and the flushed receive");
        // the send and receive queues complete independently: find each by wr_id
        const bool recv_first = wcs[0].wr_id == recv_wr_id;
        const ibv_wc& flushed_recv = recv_first ? wcs[0] : wcs[1];
        const ibv_wc& error = recv_first ? wcs[1] : wcs[0];
        BOOST_TEST(flushed_recv.wr_id == recv_wr_id);
        BOOST_TEST(name(flushed_recv.status) == name(IBV_WC_WR_FLUSH_ERR));
        BOOST_TEST(error.wr_id == bad_wr_id);
        BOOST_TEST(name(error.status) == name(status));
        BOOST_TEST(error.qp_num == qa().qp_num);
        BOOST_TEST(state_of(qa()) == "ERR");
        // later work requests are flushed, signaled or not
        ibv_sge sg = local.sge(100, 8);
        for (const unsigned flags : {0U, unsigned{IBV_SEND_SIGNALED}}) {
            (void)post_and_complete(
                qa(), ca(),
                rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, target.addr(), target.key(), flags),
                IBV_WC_WR_FLUSH_ERR, 0xf1 + flags);
        }
        BOOST_REQUIRE_EQUAL(post_recv(qa(), {&rsg, 1}, recv_wr_id + 1), 0);
        const ibv_wc flushed = completion_now(ca());
        BOOST_TEST(flushed.wr_id == recv_wr_id + 1);
        BOOST_TEST(name(flushed.status) == name(IBV_WC_WR_FLUSH_ERR));
        // nothing written, the responder unaffected
        check_bytes(local.data, before[0], "requester buffer");
        check_bytes(target.data, before[1], "target buffer");
        std::size_t i = 2;
        for (buffer* b : also) {
            check_bytes(b->data, before[i++], "other buffer");
        }
        BOOST_TEST(drain(cb()).empty());
        BOOST_TEST(state_of(qb()) == "RTS");
    }

    /// After an error: reconnects a, and checks that the pair works again.
    void check_recovers() {
        pair.reconnect(pair.a);
        ibv_sge sg = local.sge(8, 100);
        (void)post_and_complete(qa(), ca(),
                                rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, target.addr(3), target.key()),
                                IBV_WC_SUCCESS);
        check_bytes(target.part(3, 100), local.part(8, 100), "target after recovery");
    }

    buffer local;
    buffer target;
};

ibv_send_wr write_to(ibv_sge& sg, std::uint64_t raddr, std::uint32_t rkey) {
    return rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, raddr, rkey);
}
ibv_send_wr read_from(ibv_sge& sg, std::uint64_t raddr, std::uint32_t rkey) {
    return rdma_wr(IBV_WR_RDMA_READ, {&sg, 1}, raddr, rkey);
}
ibv_send_wr fetch_add(ibv_sge& sg, std::uint64_t raddr, std::uint32_t rkey) {
    return atomic_wr(IBV_WR_ATOMIC_FETCH_AND_ADD, sg, raddr, rkey, 1, 0);
}
ibv_send_wr cmp_swap(ibv_sge& sg, std::uint64_t raddr, std::uint32_t rkey) {
    return atomic_wr(IBV_WR_ATOMIC_CMP_AND_SWP, sg, raddr, rkey, 0, 1);
}

// ---- errors -----------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(errors, error_fixture, *utf::precondition(devices_present{{dut()}}))

BOOST_DATA_TEST_CASE(bad_rkey, bdata::make({no_such_key, 0U}), rkey) {
    ibv_sge sg = local.sge(0, 100);
    expect_error(write_to(sg, target.addr(), rkey), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
    expect_error(read_from(sg, target.addr(), rkey), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
    ibv_sge a8 = local.sge(0, 8);
    expect_error(fetch_add(a8, target.addr(), rkey), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
}

BOOST_AUTO_TEST_CASE(range_outside_the_target) {
    ibv_sge sg = local.sge(0, 11);
    expect_error(write_to(sg, target.addr(65536 - 10), target.key()), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
    expect_error(write_to(sg, target.addr() - 1, target.key()), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
    expect_error(read_from(sg, target.addr(65536 - 10), target.key()), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
    ibv_sge big = local.sge(0, 65536);
    expect_error(write_to(big, target.addr(1), target.key()), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
    ibv_sge a8 = local.sge(0, 8);
    expect_error(fetch_add(a8, target.addr(65536), target.key()), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
    expect_error(cmp_swap(a8, target.addr() - 8, target.key()), IBV_WC_REM_ACCESS_ERR);
    check_recovers();
}

BOOST_AUTO_TEST_CASE(target_mr_lacks_the_right) {
    buffer read_only(*pd, 4096, access::remote_read);
    buffer write_only(*pd, 4096, access::local_write | access::remote_write);
    buffer local_only(*pd, 4096, access::local_write);
    ibv_sge sg = local.sge(0, 64);
    ibv_sge a8 = local.sge(0, 8);
    expect_error(write_to(sg, read_only.addr(), read_only.key()), IBV_WC_REM_ACCESS_ERR,
                 {&read_only});
    check_recovers();
    expect_error(read_from(sg, write_only.addr(), write_only.key()), IBV_WC_REM_ACCESS_ERR,
                 {&write_only});
    check_recovers();
    expect_error(fetch_add(a8, write_only.addr(), write_only.key()), IBV_WC_REM_ACCESS_ERR,
                 {&write_only});
    check_recovers();
    expect_error(cmp_swap(a8, read_only.addr(), read_only.key()), IBV_WC_REM_ACCESS_ERR,
                 {&read_only});
    check_recovers();
    // a local-only MR is no target at all
    for (ibv_send_wr wr : {write_to(sg, local_only.addr(), local_only.key()),
                           read_from(sg, local_only.addr(), local_only.key())}) {
        expect_error(wr, IBV_WC_REM_ACCESS_ERR, {&local_only});
        check_recovers();
    }
}

BOOST_AUTO_TEST_CASE(target_mr_in_another_pd) {
    const pd_ptr other_pd = alloc_pd(*ctx);
    buffer other(*other_pd, 4096, all_access);
    ibv_sge sg = local.sge(0, 64);
    ibv_sge a8 = local.sge(0, 8);
    expect_error(write_to(sg, other.addr(), other.key()), IBV_WC_REM_ACCESS_ERR, {&other});
    check_recovers();
    expect_error(read_from(sg, other.addr(), other.key()), IBV_WC_REM_ACCESS_ERR, {&other});
    check_recovers();
    expect_error(fetch_add(a8, other.addr(), other.key()), IBV_WC_REM_ACCESS_ERR, {&other});
    check_recovers();
}

/// An operation and the QP access flags that lack its right.
struct qp_access_case {
    const char* op;
    access qp_access;
};
std::ostream& operator<<(std::ostream& os, const qp_access_case& c) {
    return os << c.op;
}

const std::array qp_access_cases{
    qp_access_case{"write", access::remote_read | access::remote_atomic},
    qp_access_case{"read", access::remote_write | access::remote_atomic},
    qp_access_case{"atomic", access::remote_write | access::remote_read},
};

BOOST_DATA_TEST_CASE(peer_qp_access_flags_lack_the_right, bdata::make(qp_access_cases), c) {
    rc_pair_options opts;
    opts.qp_access = c.qp_access;
    pair = rc_pair::create(*pd, *pd, opts);
    ibv_sge sg = local.sge(0, 64);
    ibv_sge a8 = local.sge(0, 8);
    const std::string_view op = c.op;
    const ibv_send_wr bad = op == "write"  ? write_to(sg, target.addr(), target.key())
                            : op == "read" ? read_from(sg, target.addr(), target.key())
                                           : fetch_add(a8, target.addr(), target.key());
    expect_error(bad, IBV_WC_REM_ACCESS_ERR);
    // what the flags allow still works
    pair.reconnect(pair.a);
    const ibv_send_wr good = op == "read" ? write_to(sg, target.addr(), target.key())
                                          : read_from(sg, target.addr(), target.key());
    (void)post_and_complete(qa(), ca(), good, IBV_WC_SUCCESS);
}

BOOST_DATA_TEST_CASE(misaligned_atomic, bdata::make({1, 4, 7, 12}), off) {
    ibv_sge a8 = local.sge(0, 8);
    const auto o = static_cast<std::size_t>(off);
    expect_error(fetch_add(a8, target.addr(o), target.key()), IBV_WC_REM_INV_REQ_ERR);
    check_recovers();
    expect_error(cmp_swap(a8, target.addr(o), target.key()), IBV_WC_REM_INV_REQ_ERR);
    check_recovers();
}

BOOST_AUTO_TEST_CASE(bad_lkey) {
    ibv_sge sg{local.addr(), 64, no_such_key};
    expect_error(write_to(sg, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR);
    check_recovers();
    expect_error(read_from(sg, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR);
    check_recovers();
    expect_error(send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_LOC_PROT_ERR);
    check_recovers();
    ibv_sge a8{local.addr(), 8, no_such_key};
    expect_error(fetch_add(a8, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR);
    check_recovers();
    // one bad SGE among good ones
    std::array<ibv_sge, 3> sges{local.sge(0, 10), ibv_sge{local.addr(10), 10, no_such_key},
                                local.sge(20, 10)};
    expect_error(rdma_wr(IBV_WR_RDMA_WRITE, sges, target.addr(), target.key()),
                 IBV_WC_LOC_PROT_ERR);
    check_recovers();
}

BOOST_AUTO_TEST_CASE(local_range_outside_the_mr) {
    ibv_sge sg = local.sge(65536 - 50, 50);
    sg.length = 51;
    expect_error(write_to(sg, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR);
    check_recovers();
    expect_error(read_from(sg, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR);
    check_recovers();
    ibv_sge before = local.sge(0, 8);
    before.addr -= 1;
    expect_error(send_wr(IBV_WR_SEND, {&before, 1}), IBV_WC_LOC_PROT_ERR);
    check_recovers();
}

BOOST_AUTO_TEST_CASE(local_mr_in_another_pd) {
    const pd_ptr other_pd = alloc_pd(*ctx);
    buffer other(*other_pd, 4096, all_access);
    ibv_sge sg = other.sge(0, 64);
    expect_error(write_to(sg, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR, {&other});
    check_recovers();
    expect_error(read_from(sg, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR, {&other});
    check_recovers();
}

BOOST_AUTO_TEST_CASE(results_need_local_write) {
    for (const access flags : {access::none, access::remote_read}) {
        buffer ro(*pd, 4096, flags);
        ibv_sge sg = ro.sge(0, 64);
        expect_error(read_from(sg, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR, {&ro});
        check_recovers();
        ibv_sge a8 = ro.sge(8, 8);
        expect_error(fetch_add(a8, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR, {&ro});
        check_recovers();
        expect_error(cmp_swap(a8, target.addr(), target.key()), IBV_WC_LOC_PROT_ERR, {&ro});
        check_recovers();
    }
}

BOOST_DATA_TEST_CASE(atomic_length_must_be_8, bdata::make({0, 1, 4, 7, 9, 16}), len) {
    ibv_sge sg = local.sge(0, static_cast<std::size_t>(len));
    expect_error(fetch_add(sg, target.addr(), target.key()), IBV_WC_LOC_LEN_ERR);
    check_recovers();
    expect_error(cmp_swap(sg, target.addr(), target.key()), IBV_WC_LOC_LEN_ERR);
    check_recovers();
}

BOOST_AUTO_TEST_CASE(atomic_in_two_sges) {
    std::array<ibv_sge, 2> sges{local.sge(0, 4), local.sge(4, 4)};
    ibv_send_wr wr = fetch_add(sges[0], target.addr(), target.key());
    wr.num_sge = 2;
    expect_error(wr, IBV_WC_LOC_LEN_ERR);
    check_recovers();
}

BOOST_AUTO_TEST_CASE(inline_beyond_256_bytes_fails) {
    std::vector<std::byte> mem = random_bytes(257);
    ibv_sge sg{addr_of(mem.data()), 257, 0};
    ibv_sge rsg = target.sge(0, 1000);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 1), 0);
    const std::vector<std::byte> before = target.data;
    const int rc = post(qa(), send_wr(IBV_WR_SEND, {&sg, 1}, IBV_SEND_SIGNALED | IBV_SEND_INLINE));
    if (rc == 0) {
        BOOST_TEST(name(completion_now(ca()).status) != name(IBV_WC_SUCCESS));
    }
    check_no_completion(cb());
    check_bytes(target.data, before, "receive buffer");
}

BOOST_AUTO_TEST_CASE(peer_qp_gone) {
    ibv_sge sg = local.sge(0, 64);
    const std::vector<std::byte> before = target.data;
    const qp_endpoint gone = endpoint_of(qb());
    pair.b.qp.reset();
    for (ibv_send_wr wr :
         {write_to(sg, target.addr(), target.key()), send_wr(IBV_WR_SEND, {&sg, 1}),
          read_from(sg, target.addr(), target.key())}) {
        BOOST_REQUIRE_EQUAL(post(qa(), wr, 1), 0);
        BOOST_TEST(name(completion_now(ca()).status) == name(IBV_WC_RETRY_EXC_ERR));
        BOOST_TEST(state_of(qa()) == "ERR");
        qp_to_reset(qa());
        connect_qp(qa(), gone);
    }
    check_bytes(target.data, before, "target");
}

BOOST_AUTO_TEST_CASE(peer_qp_never_existed) {
    const qp_ptr qp = create_rc_qp(*pd, ca(), ca());
    qp_endpoint nowhere = endpoint_of(*qp);
    nowhere.qpn = 0xffff00;
    connect_qp(*qp, nowhere);
    ibv_sge sg = local.sge(0, 64);
    BOOST_REQUIRE_EQUAL(post(*qp, write_to(sg, target.addr(), target.key()), 1), 0);
    BOOST_TEST(name(completion_now(ca()).status) == name(IBV_WC_RETRY_EXC_ERR));
    BOOST_TEST(state_of(*qp) == "ERR");
}

BOOST_AUTO_TEST_CASE(peer_not_connected_back) {
    // b talks to c, not to a
    const qp_ptr c = create_rc_qp(*pd, cb(), cb());
    qp_to_reset(qb());
    connect_qp(qb(), endpoint_of(*c));
    ibv_sge sg = local.sge(0, 64);
    const std::vector<std::byte> before = target.data;
    for (ibv_send_wr wr :
         {write_to(sg, target.addr(), target.key()), send_wr(IBV_WR_SEND, {&sg, 1}),
          read_from(sg, target.addr(), target.key())}) {
        BOOST_REQUIRE_EQUAL(post(qa(), wr, 1), 0);
        BOOST_TEST(name(completion_now(ca()).status) == name(IBV_WC_RETRY_EXC_ERR));
        BOOST_TEST(state_of(qa()) == "ERR");
        pair.reconnect(pair.a);
    }
    check_bytes(target.data, before, "target");
}

BOOST_AUTO_TEST_CASE(peer_must_be_ready_to_receive) {
    ibv_sge sg = local.sge(0, 64);
    for (int step = 0; step < 3; ++step) {
        qp_to_reset(qb());
        if (step >= 1) {
            qp_to_init(qb(), remote_all);
        }
        if (step == 2) {
            // RTR is enough to be written to
            qp_to_rtr(qb(), endpoint_of(qa()), addressing::lid);
            (void)post_and_complete(qa(), ca(), write_to(sg, target.addr(), target.key()),
                                    IBV_WC_SUCCESS);
            break;
        }
        BOOST_REQUIRE_EQUAL(post(qa(), write_to(sg, target.addr(), target.key()), 1), 0);
        BOOST_TEST(name(completion_now(ca()).status) == name(IBV_WC_RETRY_EXC_ERR),
                   "peer in " << (step == 0 ? "RESET" : "INIT"));
        pair.reconnect(pair.a);
    }
}

BOOST_AUTO_TEST_CASE(write_with_imm_error_consumes_no_receive) {
    ibv_sge rsg = target.sge(1000, 100);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 55), 0);
    ibv_sge sg = local.sge(0, 64);
    expect_error(rdma_wr(IBV_WR_RDMA_WRITE_WITH_IMM, {&sg, 1}, target.addr(), no_such_key,
                         IBV_SEND_SIGNALED, 1),
                 IBV_WC_REM_ACCESS_ERR);
    // b's receive is still there: the next message takes it
    pair.reconnect(pair.a);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    const ibv_wc wc = completion_within(cb());
    BOOST_TEST(wc.wr_id == 55U);
    BOOST_TEST(wc.opcode == IBV_WC_RECV);
    check_bytes(target.part(1000, 64), local.part(0, 64), "receive buffer");
}

BOOST_AUTO_TEST_CASE(chain_after_an_error_is_flushed) {
    ibv_sge sg = local.sge(0, 64);
    std::array<ibv_send_wr, 3> wrs{write_to(sg, target.addr(), no_such_key),
                                   write_to(sg, target.addr(), target.key()),
                                   write_to(sg, target.addr(), target.key())};
    wrs[1].send_flags = 0;
    for (std::size_t i = 0; i < wrs.size(); ++i) {
        wrs.at(i).wr_id = i;
        wrs.at(i).next = i + 1 < wrs.size() ? &wrs.at(i + 1) : nullptr;
    }
    const std::vector<std::byte> before = target.data;
    ibv_send_wr* bad = nullptr;
    BOOST_REQUIRE_EQUAL(ibv_post_send(&qa(), wrs.data(), &bad), 0);
    const std::vector<ibv_wc> wcs = drain(ca());
    BOOST_REQUIRE_EQUAL(wcs.size(), 3U);
    BOOST_TEST(name(wcs[0].status) == name(IBV_WC_REM_ACCESS_ERR));
    BOOST_TEST(name(wcs[1].status) == name(IBV_WC_WR_FLUSH_ERR));
    BOOST_TEST(name(wcs[2].status) == name(IBV_WC_WR_FLUSH_ERR));
    for (std::size_t i = 0; i < wcs.size(); ++i) {
        BOOST_TEST(wcs[i].wr_id == i);
    }
    check_bytes(target.data, before, "target");
}

BOOST_AUTO_TEST_CASE(access_flags_change_in_rts) {
    // RTS -> RTS may change qp_access_flags; the responder's flags apply at once
    ibv_sge sg = local.sge(0, 64);
    ibv_qp_attr attr{};
    attr.qp_access_flags = IBV_ACCESS_REMOTE_READ;
    modify_qp(qb(), attr, IBV_QP_ACCESS_FLAGS);
    BOOST_TEST(state_of(qb()) == "RTS");
    expect_error(write_to(sg, target.addr(), target.key()), IBV_WC_REM_ACCESS_ERR);
    attr.qp_access_flags = static_cast<unsigned>(to_ibv(remote_all));
    modify_qp(qb(), attr, IBV_QP_ACCESS_FLAGS);
    check_recovers();
}

BOOST_AUTO_TEST_CASE(message_size_limit) {
    // max_msg_sz is 16 MiB: two SGEs over one 8 MiB (+1) buffer
    constexpr std::size_t half = std::size_t{8} << 20;
    BOOST_TEST(query_port(*ctx).max_msg_sz == 2 * half);
    buffer big_src(*pd, half + 1, access::local_write);
    buffer big_dst(*pd, 2 * half, all_access);
    std::array<ibv_sge, 2> sges{big_src.sge(0, half), big_src.sge(1, half)};
    std::vector<std::byte> want = big_dst.data;
    std::copy_n(big_src.data.begin(), half, want.begin());
    std::copy_n(big_src.data.begin() + 1, half, want.begin() + half);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE, sges, big_dst.addr(), big_dst.key()),
                            IBV_WC_SUCCESS);
    check_bytes(big_dst.data, want, "16 MiB write");
    // one byte more, in a third SGE: too long
    std::array<ibv_sge, 3> over{sges[0], sges[1], big_src.sge(0, 1)};
    expect_error(rdma_wr(IBV_WR_RDMA_WRITE, over, big_dst.addr(), big_dst.key()),
                 IBV_WC_LOC_LEN_ERR, {&big_dst});
}

BOOST_AUTO_TEST_CASE(requester_recovery_keeps_queued_messages) {
    // Three SENDs complete successfully while b has no receive posted: they wait in b's ring.
    // Then a fails (bad rkey), is reset and reconnected, and sends a fourth message. b must
    // get all four, in order: the recovery must not overwrite messages already completed.
    constexpr std::size_t n = 4;
    for (std::size_t i = 0; i < n - 1; ++i) {
        ibv_sge sg = local.sge(1000 * i, 100 + i);
        (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS, i);
    }
    ibv_sge bad = local.sge(0, 8);
    (void)post_and_complete(qa(), ca(), write_to(bad, target.addr(), no_such_key),
                            IBV_WC_REM_ACCESS_ERR);
    pair.reconnect(pair.a);
    ibv_sge last = local.sge(1000 * (n - 1), 100 + n - 1);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&last, 1}), IBV_WC_SUCCESS);
    for (std::size_t i = 0; i < n; ++i) {
        ibv_sge rsg = target.sge(1000 * i, 1000);
        BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, i), 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::optional<ibv_wc> wc = poll_wait(cb(), 2s);
        BOOST_TEST_REQUIRE(wc.has_value(), "message " << i << " never arrived");
        BOOST_TEST(name(wc->status) == name(IBV_WC_SUCCESS));
        BOOST_TEST(wc->byte_len == 100 + i, "message " << i << " has the length of another");
        check_bytes(target.part(1000 * i, 100 + i), local.part(1000 * i, 100 + i),
                    "message " + std::to_string(i));
    }
}

BOOST_AUTO_TEST_CASE(responder_reset_is_noticed) {
    // b is reset and reconnected while a stays connected. An RC SEND that completes
    // successfully at a must reach b; otherwise it must complete with an error.
    ibv_sge sg = local.sge(0, 100);
    ibv_sge rsg = target.sge(0, 1000);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 1), 0);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    BOOST_TEST(completion_within(cb()).wr_id == 1U);
    pair.reconnect(pair.b);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 2), 0);
    ibv_sge sg2 = local.sge(500, 100);
    BOOST_REQUIRE_EQUAL(post(qa(), send_wr(IBV_WR_SEND, {&sg2, 1}), 3), 0);
    const ibv_wc swc = completion_now(ca());
    if (swc.status == IBV_WC_SUCCESS) {
        const std::optional<ibv_wc> r = poll_wait(cb(), 2s);
        BOOST_TEST(r.has_value(), "a's SEND completed successfully, but b never received it");
        if (r) {
            BOOST_TEST(r->wr_id == 2U);
            check_bytes(target.part(0, 100), local.part(500, 100), "message after b's reset");
        }
    }
}

BOOST_AUTO_TEST_CASE(full_ring_waits_then_rnr) {
    // 64 one-slot messages fill b's ring (no receive posted); the 65th waits 2 s, then fails
    constexpr std::size_t ring_slots = 64;
    const std::vector<std::size_t> lens = {1, 100, 4000};
    for (std::size_t i = 0; i < ring_slots; ++i) {
        ibv_sge sg = local.sge(i * 7, lens[i % lens.size()]);
        (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS, i);
    }
    ibv_sge sg = local.sge(0, 10);
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_REQUIRE_EQUAL(post(qa(), send_wr(IBV_WR_SEND, {&sg, 1}), bad_wr_id), 0);
    const auto waited = std::chrono::steady_clock::now() - t0;
    const ibv_wc wc = completion_now(ca());
    BOOST_TEST(name(wc.status) == name(IBV_WC_RNR_RETRY_EXC_ERR));
    BOOST_TEST(waited >= 1900ms,
               "post_send returned after "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                   << " ms");
    BOOST_TEST(waited < 30s);
    BOOST_TEST(state_of(qa()) == "ERR");
    BOOST_TEST(state_of(qb()) == "RTS");
    // the 64 queued messages are still delivered, in order
    buffer inbox(*pd, ring_slots * 4000, access::local_write);
    for (std::size_t i = 0; i < ring_slots; ++i) {
        ibv_sge rsg = inbox.sge(i * 4000, 4000);
        BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, i), 0);
    }
    for (std::size_t i = 0; i < ring_slots; ++i) {
        const ibv_wc r = completion_within(cb());
        BOOST_TEST(name(r.status) == name(IBV_WC_SUCCESS));
        BOOST_TEST(r.wr_id == i);
        const std::size_t len = lens[i % lens.size()];
        BOOST_TEST(r.byte_len == len);
        check_bytes(inbox.part(i * 4000, len), local.part(i * 7, len), "message");
    }
    check_no_completion(cb());
}

BOOST_DATA_TEST_CASE(receive_buffer_too_small, bdata::make({1, 100, 4063, 5000}), len) {
    // the message is one byte longer than the receive SGE; bytes after the SGE stay untouched
    const auto n = static_cast<std::size_t>(len);
    ibv_sge rsg = target.sge(10, n);
    ibv_sge rsg2 = target.sge(20000, 20000);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 1), 0);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg2, 1}, 2), 0);
    const std::vector<std::byte> before = target.data;
    ibv_sge sg = local.sge(0, n + 1);
    const ibv_wc swc =
        post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    (void)swc;
    const ibv_wc r = completion_within(cb());
    BOOST_TEST(r.wr_id == 1U);
    BOOST_TEST(name(r.status) == name(IBV_WC_LOC_LEN_ERR));
    const ibv_wc r2 = completion_within(cb());
    BOOST_TEST(r2.wr_id == 2U);
    BOOST_TEST(name(r2.status) == name(IBV_WC_WR_FLUSH_ERR));
    BOOST_TEST(state_of(qb()) == "ERR");
    check_bytes(target.part(0, 10), std::span(before).subspan(0, 10), "before the receive SGE");
    check_bytes(target.part(10 + n, 20000 - 10 - n),
                std::span(before).subspan(10 + n, 20000 - 10 - n), "after the receive SGE");
    check_bytes(target.part(20000, 45536), std::span(before).subspan(20000, 45536),
                "the flushed receive's buffer");
    // a responder in ERR answers no more
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_RETRY_EXC_ERR);
}

BOOST_AUTO_TEST_CASE(receive_buffer_not_writable) {
    // a receive SGE in an MR without local write, in another PD, or with a bad key
    const pd_ptr other_pd = alloc_pd(*ctx);
    buffer ro(*pd, 4096, access::remote_read);
    buffer other(*other_pd, 4096, access::local_write);
    for (const ibv_sge rsg :
         {ro.sge(0, 1000), other.sge(0, 1000), ibv_sge{target.addr(), 1000, no_such_key}}) {
        const std::vector<std::byte> ro_before = ro.data;
        const std::vector<std::byte> other_before = other.data;
        ibv_sge r = rsg;
        BOOST_REQUIRE_EQUAL(post_recv(qb(), {&r, 1}, 1), 0);
        ibv_sge sg = local.sge(0, 100);
        (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
        const ibv_wc wc = completion_within(cb());
        BOOST_TEST(name(wc.status) == name(IBV_WC_LOC_PROT_ERR));
        BOOST_TEST(state_of(qb()) == "ERR");
        check_bytes(ro.data, ro_before, "MR without local write");
        check_bytes(other.data, other_before, "MR of another PD");
        pair.reconnect();
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- fuzz -------------------------------------------------------------------------------------

/// What the fuzzer breaks in a work request; each one alone makes the request fail.
enum class defect {
    bad_rkey,
    rkey_lacks_the_right,
    rkey_in_another_pd,
    rkey_of_a_local_mr,
    raddr_past_the_end,
    raddr_before_the_start,
    misaligned_atomic,
    bad_lkey,
    lkey_in_another_pd,
    local_range_outside,
    result_without_local_write,
    atomic_length,
    inline_too_long,
};

const char* defect_name(defect d) {
    static constexpr std::array names{"bad_rkey",
                                      "rkey_lacks_the_right",
                                      "rkey_in_another_pd",
                                      "rkey_of_a_local_mr",
                                      "raddr_past_the_end",
                                      "raddr_before_the_start",
                                      "misaligned_atomic",
                                      "bad_lkey",
                                      "lkey_in_another_pd",
                                      "local_range_outside",
                                      "result_without_local_write",
                                      "atomic_length",
                                      "inline_too_long"};
    return names.at(static_cast<std::size_t>(d));
}

bool is_atomic(ibv_wr_opcode op) {
    return op == IBV_WR_ATOMIC_CMP_AND_SWP || op == IBV_WR_ATOMIC_FETCH_AND_ADD;
}
bool is_send(ibv_wr_opcode op) {
    return op == IBV_WR_SEND || op == IBV_WR_SEND_WITH_IMM;
}
bool is_write(ibv_wr_opcode op) {
    return op == IBV_WR_RDMA_WRITE || op == IBV_WR_RDMA_WRITE_WITH_IMM;
}

/// The defects that apply to `op`.
std::vector<defect> defects_for(ibv_wr_opcode op) {
    std::vector<defect> d{defect::bad_lkey, defect::lkey_in_another_pd,
                          defect::local_range_outside};
    if (!is_send(op)) {
        d.insert(d.end(), {defect::bad_rkey, defect::rkey_lacks_the_right,
                           defect::rkey_in_another_pd, defect::rkey_of_a_local_mr,
                           defect::raddr_past_the_end, defect::raddr_before_the_start});
    }
    d.push_back(is_send(op) || is_write(op) ? defect::inline_too_long
                                            : defect::result_without_local_write);
    if (is_atomic(op)) {
        d.insert(d.end(), {defect::misaligned_atomic, defect::atomic_length});
    }
    return d;
}

std::uint64_t pick(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng());
}
bool chance(unsigned one_in) {
    return pick(one_in) == 0;
}

/// The fields of a work request under construction.
struct wr_parts {
    ibv_wr_opcode op{};
    std::array<ibv_sge, 16> sges{};
    std::size_t nsge = 0;
    unsigned flags = 0;
    std::uint64_t raddr = 0;
    std::uint32_t rkey = 0;
    defect broken{};
};

/// A connected pair, MRs of every kind to aim at, and a victim MR whose key no WR carries.
struct fuzz_fixture : lo0_device {
    fuzz_fixture()
        : other_pd(alloc_pd(*ctx))
        , pair(rc_pair::create(*pd, *pd, lo0_pair::options()))
        , l_rw(*pd, 65536, access::local_write)
        , l_ro(*pd, 16384, access::none)
        , l_other(*other_pd, 16384, access::local_write)
        , r_all(*pd, 65536, all_access)
        , r_read(*pd, 16384, access::remote_read)
        , r_write(*pd, 16384, access::local_write | access::remote_write)
        , r_atomic(*pd, 16384, access::local_write | access::remote_atomic)
        , r_other(*other_pd, 16384, all_access)
        , victim(*pd, 65536, all_access)
        , pool{&l_rw, &l_ro, &l_other, &r_all, &r_read, &r_write, &r_atomic, &r_other} {
        for (const buffer* b : pool) {
            live_keys.insert(b->key());
        }
        live_keys.insert(victim.key());
    }

    buffer& any_mr() { return *pool.at(pick(pool.size())); }

    /// A key that no MR of this process has (and so never the victim's).
    [[nodiscard]] std::uint32_t dead_key() const {
        for (;;) {
            const auto key = static_cast<std::uint32_t>(rng()());
            if (!live_keys.contains(key)) {
                return key;
            }
        }
    }

    /// An address near `b`: mostly inside, sometimes just outside.
    static std::uint64_t near(const buffer& b) { return b.addr() - 32 + pick(b.data.size() + 64); }

    /// A random length: mostly small, sometimes up to the whole 32 bits.
    static std::uint32_t any_length() {
        switch (pick(4)) {
        case 0:
            return static_cast<std::uint32_t>(pick(9));
        case 1:
            return static_cast<std::uint32_t>(rng()());
        default:
            return static_cast<std::uint32_t>(pick(20000));
        }
    }

    ibv_sge any_sge() {
        const buffer& b = any_mr();
        return {near(b), any_length(), chance(8) ? dead_key() : b.key()};
    }

    /// Random fields, valid or not.
    wr_parts random_parts() {
        static constexpr std::array ops{
            IBV_WR_RDMA_WRITE,          IBV_WR_RDMA_WRITE_WITH_IMM, IBV_WR_SEND,
            IBV_WR_SEND_WITH_IMM,       IBV_WR_RDMA_READ,           IBV_WR_ATOMIC_CMP_AND_SWP,
            IBV_WR_ATOMIC_FETCH_AND_ADD};
        wr_parts p;
        p.op = ops.at(pick(ops.size()));
        const bool atomic = is_atomic(p.op);
        p.nsge = atomic ? (chance(4) ? pick(4) : 1) : pick(17);
        for (std::size_t i = 0; i < p.nsge; ++i) {
            p.sges.at(i) = any_sge();
            if (atomic && chance(2)) {
                p.sges.at(i).length = 8;
            }
        }
        p.flags |= chance(2) ? unsigned{IBV_SEND_SIGNALED} : 0U;
        p.flags |= chance(4) ? unsigned{IBV_SEND_INLINE} : 0U;
        p.flags |= chance(8) ? unsigned{IBV_SEND_SOLICITED} : 0U;
        const buffer& r = any_mr();
        p.raddr = chance(16) ? rng()() : near(r);
        p.rkey = chance(8) ? dead_key() : r.key();
        if (atomic && chance(2)) {
            p.raddr &= ~std::uint64_t{7};
        }
        return p;
    }

    /// Puts a local defect into one SGE (and turns inline off, which would skip the lkeys).
    static void break_an_sge(wr_parts& p, ibv_sge sg) {
        const std::size_t at = p.nsge == 0 ? 0 : pick(p.nsge);
        p.nsge = std::max<std::size_t>(p.nsge, 1);
        sg.length = std::max<std::uint32_t>(sg.length, 1);
        p.sges.at(at) = sg;
        p.flags &= ~unsigned{IBV_SEND_INLINE};
    }

    /// Breaks one thing of `p`, chosen among the defects that apply to its opcode.
    void break_one(wr_parts& p) {
        const std::vector<defect> possible = defects_for(p.op);
        p.broken = possible.at(pick(possible.size()));
        const auto len = static_cast<std::uint32_t>(1 + pick(5000));
        switch (p.broken) {
        case defect::bad_rkey:
            p.rkey = dead_key();
            break;
        case defect::rkey_lacks_the_right:
            p.rkey = p.op == IBV_WR_RDMA_READ ? r_write.key() : r_read.key();
            break;
        case defect::rkey_in_another_pd:
            p.rkey = r_other.key();
            break;
        case defect::rkey_of_a_local_mr:
            p.rkey = chance(2) ? l_rw.key() : l_ro.key();
            break;
        case defect::raddr_past_the_end:
            p.rkey = r_all.key();
            p.raddr = r_all.addr(r_all.data.size()) + 1 + pick(1000);
            break;
        case defect::raddr_before_the_start:
            p.rkey = r_all.key();
            p.raddr = r_all.addr() - 1 - pick(1000);
            break;
        case defect::misaligned_atomic:
            p.raddr = (p.raddr & ~std::uint64_t{7}) + 1 + pick(7);
            break;
        case defect::bad_lkey:
            break_an_sge(p, {near(l_rw), len, dead_key()});
            break;
        case defect::lkey_in_another_pd:
            break_an_sge(p, {l_other.addr(pick(1000)), len, l_other.key()});
            break;
        case defect::local_range_outside:
            break_an_sge(
                p, chance(2) ? ibv_sge{l_rw.addr(l_rw.data.size() - pick(len)), len + 1, l_rw.key()}
                             : ibv_sge{l_rw.addr() - 1 - pick(100), len, l_rw.key()});
            break;
        case defect::result_without_local_write:
            break_an_sge(p, {l_ro.addr(pick(1000)), is_atomic(p.op) ? 8 : len, l_ro.key()});
            break;
        case defect::atomic_length:
            p.nsge = 1;
            p.sges[0].length = static_cast<std::uint32_t>(chance(2) ? pick(8) : 9 + pick(100));
            break;
        case defect::inline_too_long:
            if (p.nsge == 0) {
                p.nsge = 1;
                p.sges[0] = any_sge();
            }
            p.sges[0].length = static_cast<std::uint32_t>(257 + pick(10000));
            p.flags |= IBV_SEND_INLINE;
            break;
        }
    }

    /// The work request of `p` (its SGE list stays in `p`).
    static ibv_send_wr assemble(wr_parts& p) {
        const std::span<ibv_sge> list(p.sges.data(), p.nsge);
        const auto imm = static_cast<std::uint32_t>(rng()());
        if (is_atomic(p.op)) {
            ibv_send_wr wr = atomic_wr(p.op, p.sges[0], p.raddr, p.rkey, rng()(), rng()(), p.flags);
            wr.num_sge = static_cast<int>(p.nsge);
            return wr;
        }
        if (is_send(p.op)) {
            return send_wr(p.op, list, p.flags, imm);
        }
        return rdma_wr(p.op, list, p.raddr, p.rkey, p.flags, imm);
    }

    /// Posts work request `i` and checks that it failed; reconnects a if it went to ERR.
    void post_one(std::uint64_t i, wr_parts& p) {
        const ibv_send_wr wr = assemble(p);
        ++by_defect[defect_name(p.broken)];
        if (const int rc = post(*pair.a.qp, wr, i); rc != 0) {
            ++statuses["post: " + std::string{std::strerror(rc)}]; // NOLINT(*-mt-unsafe)
            return;
        }
        const std::optional<ibv_wc> wc = poll_now(*pair.a.cq);
        const bool failed = wc && wc->status != IBV_WC_SUCCESS && wc->wr_id == i;
        if (failed) {
            ++statuses[std::string{name(wc->status)}];
        } else if (++failures <= 10) {
            BOOST_ERROR("work request " << i << " (opcode " << p.op << ", defect "
                                        << defect_name(p.broken) << ", " << p.nsge
                                        << " SGEs): " << (wc ? name(wc->status) : "no completion"));
        }
        if (failed || query_qp_state(*pair.a.qp) == IBV_QPS_ERR) {
            pair.reconnect(pair.a);
        }
    }

    void print_summary() const {
        std::cout << "fuzz: completions by status:";
        for (const auto& [status, count] : statuses) {
            std::cout << " " << status << "=" << count;
        }
        std::cout << "\nfuzz: requests by defect:";
        for (const auto& [d, count] : by_defect) {
            std::cout << " " << d << "=" << count;
        }
        std::cout << std::endl;
    }

    pd_ptr other_pd;
    rc_pair pair;
    buffer l_rw;
    buffer l_ro;
    buffer l_other;
    buffer r_all;
    buffer r_read;
    buffer r_write;
    buffer r_atomic;
    buffer r_other;
    buffer victim;
    std::array<buffer*, 8> pool;
    std::set<std::uint32_t> live_keys;
    std::map<std::string, unsigned> statuses;
    std::map<std::string, unsigned> by_defect;
    unsigned failures = 0;
};

BOOST_FIXTURE_TEST_SUITE(fuzz, fuzz_fixture, *utf::precondition(devices_present{{dut()}}))

BOOST_AUTO_TEST_CASE(random_bad_work_requests) {
    constexpr std::uint64_t iterations = 10000;
    std::cout << "fuzz: " << iterations << " bad work requests, seed 0x" << std::hex << seed()
              << std::dec << std::endl;
    std::vector<std::vector<std::byte>> before;
    for (const buffer* b : pool) {
        before.push_back(b->data);
    }
    const std::vector<std::byte> victim_before = victim.data;
    const unsigned dmbs_before = dmbs(dut());
    for (std::uint64_t i = 0; i < iterations; ++i) {
        wr_parts p = random_parts();
        break_one(p);
        post_one(i, p);
        if (i % 1000 == 999) {
            check_bytes(victim.data, victim_before, "victim MR");
            BOOST_TEST_REQUIRE(name(query_qp_state(*pair.b.qp)) == "RTS");
        }
    }
    print_summary();
    BOOST_TEST(failures == 0U);
    check_bytes(victim.data, victim_before, "victim MR");
    for (std::size_t i = 0; i < pool.size(); ++i) {
        check_bytes(pool.at(i)->data, before.at(i), "an MR the requests aimed at");
    }
    BOOST_TEST(drain(*pair.b.cq).empty());
    BOOST_TEST(dmbs(dut()) == dmbs_before);
    // the pair still works
    ibv_sge sg = l_rw.sge(0, 4096);
    (void)post_and_complete(*pair.a.qp, *pair.a.cq,
                            rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, r_all.addr(100), r_all.key()),
                            IBV_WC_SUCCESS);
    check_bytes(r_all.part(100, 4096), l_rw.part(0, 4096), "write after the fuzzing");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace dibs::conformance

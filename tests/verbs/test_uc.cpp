// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance, suite uc: Unreliable Connected QPs on dut() - SEND and RDMA WRITE (with
// immediate) byte for byte, no READ and no atomics, and the UC error semantics of the IB spec
// (o9-/C9- rules for UC responders, as rxe implements them): what the responder refuses - an
// rkey it does not know, a SEND too long for the receive - is silently dropped; the requester,
// which gets no acknowledgment, completes successfully, both QPs stay in RTS, and the receive
// stays posted for the next message.
#include "conformance.hpp"

#include <cstring>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

namespace dibs::conformance {
namespace {

namespace bdata = boost::unit_test::data;

/// A connected UC pair on dut(), with a requester buffer and a target buffer (a page longer).
struct uc_fixture : lo0_device {
    static constexpr std::size_t size = std::size_t{256} << 10;

    uc_fixture()
        : pair(rc_pair::create(*pd, *pd, options()))
        , local(*pd, size, all_access)
        , remote(*pd, size + 4096, all_access) {}

    static rc_pair_options options() {
        rc_pair_options opts;
        opts.type = IBV_QPT_UC;
        opts.caps.max_inline_data = 256;
        return opts;
    }

    ibv_qp& qa() { return *pair.a.qp; }
    ibv_qp& qb() { return *pair.b.qp; }
    ibv_cq& ca() { return *pair.a.cq; }
    ibv_cq& cb() { return *pair.b.cq; }

    /// Both QPs are still in RTS.
    void check_both_rts() {
        BOOST_TEST(name(query_qp_state(qa())) == name(IBV_QPS_RTS));
        BOOST_TEST(name(query_qp_state(qb())) == name(IBV_QPS_RTS));
    }

    /// SENDs local[0, len) to b's receive `wr_id`, posted at remote[0]; checks the data and the
    /// completion.
    void send_and_check(std::size_t len, std::uint64_t wr_id) {
        fill_random(local.bytes());
        ibv_sge s = local.sge(0, len);
        (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&s, 1}), IBV_WC_SUCCESS);
        const ibv_wc wc = completion_within(cb());
        BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
        BOOST_TEST(wc.opcode == IBV_WC_RECV);
        BOOST_TEST(wc.wr_id == wr_id);
        BOOST_TEST(wc.byte_len == len);
        BOOST_TEST(wc.qp_num == qb().qp_num);
        BOOST_TEST(wc.src_qp == qa().qp_num);
        check_bytes(remote.part(0, len), local.part(0, len), "the SEND's data");
    }

    rc_pair pair;
    buffer local;
    buffer remote;
};

// 1 byte, one slot's worth and one more, several slots, a quarter MiB
const auto sizes = bdata::make({std::size_t{1}, std::size_t{4016}, std::size_t{4017},
                                std::size_t{65536}, std::size_t{256} << 10});

} // namespace

BOOST_AUTO_TEST_SUITE(uc, *utf::precondition(devices_present{{dut()}}))

BOOST_FIXTURE_TEST_CASE(created_connected_and_reported, uc_fixture) {
    ibv_qp_attr attr{};
    ibv_qp_init_attr init{};
    BOOST_REQUIRE_EQUAL(ibv_query_qp(&qa(), &attr, IBV_QP_STATE | IBV_QP_DEST_QPN, &init), 0);
    BOOST_TEST(init.qp_type == IBV_QPT_UC);
    BOOST_TEST(name(attr.qp_state) == name(IBV_QPS_RTS));
    BOOST_TEST(attr.dest_qp_num == qb().qp_num);
    // UC has neither RDMA READ resources nor retries: such attributes are invalid
    for (const int mask : {IBV_QP_MAX_QP_RD_ATOMIC, IBV_QP_TIMEOUT, IBV_QP_RETRY_CNT}) {
        ibv_qp_attr bad{};
        bad.qp_state = IBV_QPS_RTS;
        bad.max_rd_atomic = 1;
        bad.timeout = 14;
        bad.retry_cnt = 7;
        BOOST_TEST(ibv_modify_qp(&qa(), &bad, IBV_QP_STATE | mask) == EINVAL, "mask " << mask);
    }
    check_both_rts();
}

BOOST_DATA_TEST_CASE_F(uc_fixture, rdma_write_lands, sizes, len) {
    fill_random(local.bytes());
    std::vector<std::byte> want = remote.data;
    std::memcpy(want.data() + 8, local.data.data(), len);
    ibv_sge s = local.sge(0, len);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, remote.addr(8), remote.key()),
                            IBV_WC_SUCCESS);
    check_bytes(remote.bytes(), want, "the target after the WRITE");
}

BOOST_DATA_TEST_CASE_F(uc_fixture, send_arrives, sizes, len) {
    ibv_sge r = remote.sge(0, size);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&r, 1}, 11), 0);
    send_and_check(len, 11);
    check_both_rts();
}

BOOST_FIXTURE_TEST_CASE(write_with_imm_arrives, uc_fixture) {
    ibv_sge r = remote.sge(0, 0);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&r, 0}, 12), 0);
    ibv_sge s = local.sge(0, 5000);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE_WITH_IMM, {&s, 1}, remote.addr(100),
                                    remote.key(), IBV_SEND_SIGNALED, 0xabcd1234),
                            IBV_WC_SUCCESS);
    const ibv_wc wc = completion_within(cb());
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(wc.opcode == IBV_WC_RECV_RDMA_WITH_IMM);
    BOOST_TEST(wc.wr_id == 12U);
    BOOST_TEST((wc.wc_flags & IBV_WC_WITH_IMM) != 0);
    BOOST_TEST(imm_of(wc) == 0xabcd1234U);
    check_bytes(remote.part(100, 5000), local.part(0, 5000), "the WRITE_WITH_IMM's data");
}

BOOST_DATA_TEST_CASE_F(uc_fixture, read_and_atomics_are_invalid,
                       bdata::make({IBV_WR_RDMA_READ, IBV_WR_ATOMIC_CMP_AND_SWP,
                                    IBV_WR_ATOMIC_FETCH_AND_ADD}),
                       opcode) {
    const std::vector<std::byte> before = remote.data;
    ibv_sge s = local.sge(0, 8);
    const ibv_send_wr wr = opcode == IBV_WR_RDMA_READ
                               ? rdma_wr(opcode, {&s, 1}, remote.addr(), remote.key())
                               : atomic_wr(opcode, s, remote.addr(), remote.key(), 1, 2);
    BOOST_TEST(post(qa(), wr) == EINVAL);
    check_no_completion(ca());
    check_bytes(remote.bytes(), before, "the target");
    check_both_rts();
    // the QP goes on
    ibv_sge w = local.sge(0, 64);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE, {&w, 1}, remote.addr(), remote.key()),
                            IBV_WC_SUCCESS);
    check_bytes(remote.part(0, 64), local.part(0, 64), "the WRITE after the refused WR");
}

BOOST_FIXTURE_TEST_CASE(refused_write_is_lost, uc_fixture) {
    buffer no_write(*pd, 4096, access::local_write | access::remote_read);
    const std::vector<std::byte> before = remote.data;
    const std::vector<std::byte> before_nw = no_write.data;
    ibv_sge s = local.sge(0, 64);
    // unknown rkey, past the MR's end, an MR without remote write
    (void)post_and_complete(
        qa(), ca(), rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, remote.addr(), remote.key() ^ 0x5a5a00U),
        IBV_WC_SUCCESS);
    (void)post_and_complete(
        qa(), ca(),
        rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, remote.addr(size + 4096 - 32), remote.key()),
        IBV_WC_SUCCESS);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, no_write.addr(), no_write.key()),
                            IBV_WC_SUCCESS);
    // a WRITE_WITH_IMM refused is lost whole: its receive stays posted
    ibv_sge r = remote.sge(0, 4096);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&r, 1}, 21), 0);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE_WITH_IMM, {&s, 1}, remote.addr(),
                                    remote.key() ^ 0x5a5a00U, IBV_SEND_SIGNALED, 7),
                            IBV_WC_SUCCESS);
    check_no_completion(cb());
    check_bytes(remote.bytes(), before, "the target of the refused WRITEs");
    check_bytes(no_write.bytes(), before_nw, "the MR without remote write");
    check_both_rts();
    send_and_check(100, 21);
}

BOOST_FIXTURE_TEST_CASE(too_long_send_is_dropped, uc_fixture) {
    ibv_sge r = remote.sge(0, 64);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&r, 1}, 31), 0);
    // one slot, then several: neither fits, both are dropped
    for (const std::size_t len : {std::size_t{65}, std::size_t{20000}}) {
        ibv_sge s = local.sge(0, len);
        (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&s, 1}), IBV_WC_SUCCESS);
    }
    check_no_completion(cb());
    check_both_rts();
    // the receive takes the next message that fits
    send_and_check(64, 31);
    check_both_rts();
}

// A sender that finds no room for the rest of a message gives up on it after the RNR time
// (2 s): on UC the message is lost, the sender completes it successfully, and the part of it in
// the receiver's ring must not run into the next message.
BOOST_FIXTURE_TEST_CASE(message_cut_by_rnr_is_lost, uc_fixture) {
    constexpr std::size_t slot = 4096 - 80; // the payload of one ring slot (dibs-rdma-wire.h)
    constexpr std::size_t big = 40 * slot;  // the ring has 64 slots: one fits, two do not
    fill_random(local.bytes());
    ibv_sge s = local.sge(0, big);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&s, 1}), IBV_WC_SUCCESS);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&s, 1}), IBV_WC_SUCCESS);
    ibv_sge r1 = remote.sge(0, big);
    ibv_sge r2 = remote.sge(big + 64, 4096);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&r1, 1}, 41), 0);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&r2, 1}, 42), 0);
    const ibv_wc first = completion_within(cb());
    BOOST_TEST(name(first.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(first.wr_id == 41U);
    BOOST_TEST(first.byte_len == big);
    check_bytes(remote.part(0, big), local.part(0, big), "the first message");
    check_no_completion(cb());
    check_both_rts();
    ibv_sge small = local.sge(1000, 100);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&small, 1}), IBV_WC_SUCCESS);
    const ibv_wc next = completion_within(cb());
    BOOST_TEST(name(next.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(next.wr_id == 42U);
    BOOST_TEST(next.byte_len == 100U);
    check_bytes(remote.part(big + 64, 100), local.part(1000, 100), "the message after the cut one");
    check_both_rts();
}

BOOST_FIXTURE_TEST_CASE(rc_peer_does_not_connect, lo0_device) {
    const cq_ptr cq_rc = create_cq(*ctx, 16);
    const cq_ptr cq_rc_recv = create_cq(*ctx, 16);
    const cq_ptr cq_uc = create_cq(*ctx, 16);
    ibv_qp_init_attr attr = rc_init_attr(*cq_rc, *cq_rc_recv, {});
    const qp_ptr rc = create_qp(*pd, attr);
    attr = rc_init_attr(*cq_uc, *cq_uc, {});
    attr.qp_type = IBV_QPT_UC;
    const qp_ptr uc = create_qp(*pd, attr);
    connect_qp(*rc, endpoint_of(*uc));
    connect_qp(*uc, endpoint_of(*rc));
    buffer buf(*pd, 4096, all_access);
    ibv_sge r = buf.sge(0, 4096);
    BOOST_REQUIRE_EQUAL(post_recv(*rc, {&r, 1}, 1), 0);
    BOOST_REQUIRE_EQUAL(post_recv(*uc, {&r, 1}, 2), 0);
    // the UC end's SEND finds no UC peer: lost; the RC end's finds no RC peer: an error
    ibv_sge s = buf.sge(0, 16);
    (void)post_and_complete(*uc, *cq_uc, send_wr(IBV_WR_SEND, {&s, 1}), IBV_WC_SUCCESS);
    check_no_completion(*cq_rc_recv);
    (void)post_and_complete(*rc, *cq_rc, send_wr(IBV_WR_SEND, {&s, 1}), IBV_WC_RETRY_EXC_ERR);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace dibs::conformance

// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance, suite rq_ring: the receive queue ring (include/uapi/rdma/dibs-rdma-abi.h,
// "Receive queue ring"; kernel/dibs_rdma_resp.c; providers/dibs/rq.hpp), in both data-path
// modes - the provider writes the ring itself, or POST_RECV makes the kernel write it the same
// way.
//
//   layout          the ring the provider mapped (/proc/self/maps) holds what was posted, at
//                   the size the uapi header gives; cons follows the completions; a queue
//                   rounded up to a power of two takes exactly that many receives
//   doorbell        a receive posted after its message arrived completes, with a completion
//                   event, though nothing but the doorbell makes the kernel look: the kernel
//                   asked for it (kick), and stops asking once the message is delivered
//   error_flush     in the error state the kernel asks for a doorbell and flushes each
//                   receive posted, with its wr_id
//   reset_forgets   RESET forgets what is posted: no old wr_id completes after reconnecting
//   broken_*        what the process writes into the ring itself is checked: an impossible
//                   prod or an entry with too many SGEs moves only that QP to the error state
//   bad_mmap        the ring's offset from another context, with another length, or after the
//                   QP is gone; a mapping that outlives its QP is harmless
//
// The kernel log is checked by the VM runner.
#include "conformance.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rdma/dibs-rdma-abi.h>
#include <sys/mman.h>

namespace dibs::conformance {
namespace {

constexpr std::size_t page = 4096;
constexpr int rw = PROT_READ | PROT_WRITE;

/// A connected pair on dut(); b's receive queue (13 asked for, 16 given: two pages) is the ring
/// under test, its CQ has a completion channel.
struct rq_fixture : lo0_device {
    static constexpr std::uint32_t asked = 13;
    static constexpr std::uint32_t given = 16;

    rq_fixture()
        : channel(create_comp_channel(*ctx))
        , ca(create_cq(*ctx, 64))
        , cb(create_cq(*ctx, 64, channel.get()))
        , buf(*pd, 65536, all_access) {
        qp_caps caps;
        caps.max_recv_wr = asked;
        qa = create_rc_qp(*pd, *ca, *ca, caps);
        const auto before = uverbs_mappings();
        qb = create_rc_qp(*pd, *cb, *cb, caps);
        map = new_qp_rings(before, uverbs_mappings()).rq;
        connect_qp(*qa, endpoint_of(*qb));
        connect_qp(*qb, endpoint_of(*qa));
    }

    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast,performance-no-int-to-ptr): the
    // provider's mapping, laid out as the uapi header says
    [[nodiscard]] dibs_rdma_rq_ring& ring() const {
        return *reinterpret_cast<dibs_rdma_rq_ring*>(map.start);
    }
    [[nodiscard]] std::span<dibs_rdma_recv_wqe> entries() const {
        return {reinterpret_cast<dibs_rdma_recv_wqe*>(map.start + DIBS_RDMA_RQ_RING_ENTRIES),
                given};
    }
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast,performance-no-int-to-ptr)

    static std::uint32_t load(std::uint32_t& field) {
        return std::atomic_ref(field).load(std::memory_order_acquire);
    }
    [[nodiscard]] std::uint32_t prod() const { return load(ring().prod); }
    [[nodiscard]] std::uint32_t cons() const { return load(ring().cons); }
    [[nodiscard]] std::uint32_t kick() const { return load(ring().kick); }

    /// A receive of `len` bytes into the second half of buf.
    int post_receive(std::uint64_t wr_id, std::size_t len = 1000) {
        ibv_sge sg = buf.sge(32768, len);
        return post_recv(*qb, {&sg, 1}, wr_id);
    }
    /// a sends `len` bytes from the first half of buf; its completion is checked.
    void send(std::size_t len = 1000) {
        ibv_sge sg = buf.sge(0, len);
        (void)post_and_complete(*qa, *ca, send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    }

    comp_channel_ptr channel;
    cq_ptr ca;
    cq_ptr cb;
    buffer buf;
    qp_ptr qa;
    qp_ptr qb;
    uverbs_mapping map;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(rq_ring, rq_fixture, *utf::precondition(devices_present{{dut()}}))

BOOST_AUTO_TEST_CASE(layout) {
    ibv_qp_attr attr{};
    ibv_qp_init_attr init{};
    BOOST_REQUIRE_EQUAL(ibv_query_qp(qb.get(), &attr, IBV_QP_CAP, &init), 0);
    BOOST_TEST(init.cap.max_recv_wr == given, "max_recv_wr rounded up to a power of two");
    const std::size_t want =
        (DIBS_RDMA_RQ_RING_ENTRIES + given * sizeof(dibs_rdma_recv_wqe) + page - 1) / page * page;
    BOOST_TEST(map.end - map.start == want);
    BOOST_TEST(want == 2 * page);
    BOOST_TEST(prod() == 0U);
    BOOST_TEST(cons() == 0U);

    std::array<ibv_sge, 3> sg{buf.sge(32768, 100), buf.sge(33000, 200), buf.sge(34000, 700)};
    BOOST_REQUIRE_EQUAL(post_recv(*qb, sg, 0x1234), 0);
    BOOST_REQUIRE_EQUAL(post_receive(0x5678), 0);
    BOOST_TEST(prod() == 2U);
    const dibs_rdma_recv_wqe& e = entries()[0];
    BOOST_TEST(e.wr_id == 0x1234U);
    BOOST_REQUIRE_EQUAL(e.num_sge, 3U);
    for (std::size_t i = 0; i < sg.size(); ++i) {
        const ib_uverbs_sge& got = std::span{e.sge}[i];
        BOOST_TEST(got.addr == sg.at(i).addr);
        BOOST_TEST(got.length == sg.at(i).length);
        BOOST_TEST(got.lkey == sg.at(i).lkey);
    }
    BOOST_TEST(entries()[1].wr_id == 0x5678U);

    send();
    const ibv_wc wc = completion_within(*cb);
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(wc.wr_id == 0x1234U);
    BOOST_TEST(cons() == 1U, "the completed entry is handed back");

    // the rounded-up queue takes exactly `given` receives (one is posted already)
    for (std::uint32_t i = 1; i < given; ++i) {
        BOOST_REQUIRE_EQUAL(post_receive(i), 0);
    }
    BOOST_TEST(post_receive(99) == ENOMEM);
    BOOST_TEST(prod() - cons() == given);
}

BOOST_AUTO_TEST_CASE(doorbell) {
    send();
    // polling the empty CQ drains b's message ring: the message is there, with no receive
    check_no_completion(*cb);
    BOOST_TEST(kick() == DIBS_RDMA_RQ_WAITING);
    BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cb.get(), 0), 0);
    BOOST_REQUIRE_EQUAL(post_receive(7), 0);
    // nothing else makes the kernel look again: no signal, no poll before the event
    const std::optional<ibv_cq*> ev = wait_cq_event(*channel, recv_timeout);
    BOOST_REQUIRE_MESSAGE(ev, "no completion event for a receive posted after its message");
    const ibv_wc wc = completion_within(*cb);
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(wc.wr_id == 7U);
    BOOST_TEST(wc.byte_len == 1000U);
    BOOST_TEST(kick() == 0U, "the kernel stops asking once the message is delivered");
}

BOOST_AUTO_TEST_CASE(error_flush) {
    BOOST_REQUIRE_EQUAL(post_receive(1), 0);
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_ERR;
    modify_qp(*qb, attr, IBV_QP_STATE);
    BOOST_TEST(kick() == DIBS_RDMA_RQ_FLUSH);
    BOOST_TEST(completion_within(*cb).wr_id == 1U);
    BOOST_REQUIRE_EQUAL(post_receive(2), 0);
    BOOST_REQUIRE_EQUAL(post_receive(3), 0);
    for (const std::uint64_t id : {2U, 3U}) {
        const ibv_wc wc = completion_within(*cb);
        BOOST_TEST(name(wc.status) == name(IBV_WC_WR_FLUSH_ERR));
        BOOST_TEST(wc.wr_id == id);
    }
    BOOST_TEST(prod() == cons());
}

BOOST_AUTO_TEST_CASE(reset_forgets) {
    BOOST_REQUIRE_EQUAL(post_receive(1), 0);
    BOOST_REQUIRE_EQUAL(post_receive(2), 0);
    qp_to_reset(*qb);
    BOOST_TEST(prod() == cons(), "RESET leaves nothing posted");
    BOOST_TEST(post_receive(3) == EINVAL, "no receive in RESET");
    qp_to_reset(*qa);
    connect_qp(*qa, endpoint_of(*qb));
    connect_qp(*qb, endpoint_of(*qa));
    BOOST_REQUIRE_EQUAL(post_receive(4), 0);
    send();
    BOOST_TEST(completion_within(*cb).wr_id == 4U);
    check_no_completion(*cb);
}

BOOST_AUTO_TEST_CASE(broken_prod) {
    // the process claims more receives than the ring holds
    std::atomic_ref(ring().prod).store(cons() + given + 1, std::memory_order_release);
    send();
    BOOST_TEST(wait_qp_state(*qb, IBV_QPS_ERR), "a broken ring moves its QP to the error state");
    // the other end, and its own receive queue, are fine
    BOOST_TEST(name(query_qp_state(*qa)) == name(IBV_QPS_RTS));
}

BOOST_AUTO_TEST_CASE(broken_entry) {
    // an entry the process wrote itself, with more SGEs than an entry holds
    dibs_rdma_recv_wqe& e = entries()[cons() % given];
    e.wr_id = 0xbad;
    e.num_sge = 1000;
    std::atomic_ref(ring().prod).store(cons() + 1, std::memory_order_release);
    send();
    BOOST_TEST(wait_qp_state(*qb, IBV_QPS_ERR), "a broken entry moves its QP to the error state");
    const ibv_wc wc = completion_within(*cb);
    BOOST_TEST(name(wc.status) == name(IBV_WC_WR_FLUSH_ERR));
    BOOST_TEST(wc.wr_id == 0xbadU);
    BOOST_TEST(name(query_qp_state(*qa)) == name(IBV_QPS_RTS));
}

BOOST_AUTO_TEST_CASE(bad_mmap) {
    check_queue_ring_mmap(*ctx, map, qb);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace dibs::conformance

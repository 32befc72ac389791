// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance, suite srq on dut(): shared receive queues. Two RC QPs take their receives
// from one SRQ, each message byte for byte in the receive it took; a message that finds the SRQ
// empty waits for the next post (the doorbell); the limit event fires once when fewer than the
// limit remain, and disarms; a QP of the SRQ in the error state leaves the SRQ's receives to the
// others and raises IBV_EVENT_QP_LAST_WQE_REACHED once; bad input (sizes, SGEs, overflow, post_recv
// on a QP of an SRQ, destroying an SRQ in use, resizing, which is not offered) is a clean error.
#include "conformance.hpp"

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace dibs::conformance {
namespace {

struct srq_del {
    void operator()(ibv_srq* srq) const noexcept { (void)ibv_destroy_srq(srq); }
};
using srq_ptr = std::unique_ptr<ibv_srq, srq_del>;

/// ibv_create_srq: the SRQ, or nullptr with errno set.
srq_ptr try_create_srq(ibv_pd& pd, std::uint32_t max_wr, std::uint32_t max_sge,
                       std::uint32_t limit = 0) {
    ibv_srq_init_attr attr{};
    attr.attr.max_wr = max_wr;
    attr.attr.max_sge = max_sge;
    attr.attr.srq_limit = limit;
    errno = 0;
    return srq_ptr{ibv_create_srq(&pd, &attr)};
}

/// Two senders on dut(), each connected to a receiver whose receives come from one SRQ (16
/// entries); the receivers share one CQ, which reports to a completion channel.
struct srq_fixture : lo0_device {
    static constexpr std::size_t slot = 4096;
    static constexpr std::uint32_t depth = 16;

    srq_fixture()
        : srq(try_create_srq(*pd, depth, 1))
        , channel(create_comp_channel(*ctx))
        , scq(create_cq(*ctx, 64))
        , rcq(create_cq(*ctx, 64, channel.get()))
        , src(*pd, slot * depth, access::local_write)
        , dst(*pd, slot * depth, access::local_write) {
        BOOST_REQUIRE_MESSAGE(srq != nullptr, "ibv_create_srq: " << std::strerror(errno));
        for (int i = 0; i < 2; ++i) {
            send.push_back(create_rc_qp(*pd, *scq, *scq));
            ibv_qp_init_attr attr = rc_init_attr(*rcq, *rcq, {});
            attr.srq = srq.get();
            recv.push_back(create_qp(*pd, attr));
            connect_qp(*send.back(), endpoint_of(*recv.back()));
            connect_qp(*recv.back(), endpoint_of(*send.back()));
        }
    }

    /// Posts the receive wr_id (dst's slot wr_id) to the SRQ; returns its errno value.
    int post_srq(std::uint64_t wr_id) {
        ibv_sge s = dst.sge(wr_id * slot, slot);
        ibv_recv_wr wr = recv_wr({&s, 1}, wr_id);
        ibv_recv_wr* bad = nullptr;
        return ibv_post_srq_recv(srq.get(), &wr, &bad);
    }

    /// SENDs message k (src's slot k, `len` bytes, byte 0 = k) from sender i.
    void send_msg(int i, std::uint8_t k, std::size_t len) {
        src.part(k * slot, 1)[0] = std::byte{k};
        ibv_sge s = src.sge(k * slot, len);
        (void)post_and_complete(*send.at(i), *scq, send_wr(IBV_WR_SEND, {&s, 1}), IBV_WC_SUCCESS);
    }

    /// The receive completion of message k, `len` bytes from sender i: its data in the slot of
    /// the receive it took.
    void check_recv(const ibv_wc& wc,
                    const std::map<std::uint8_t, std::pair<int, std::size_t>>& sent) {
        BOOST_REQUIRE_MESSAGE(wc.status == IBV_WC_SUCCESS,
                              "receive " << wc.wr_id << ": " << name(wc.status));
        BOOST_REQUIRE_LT(wc.wr_id, depth);
        const auto k = static_cast<std::uint8_t>(dst.part(wc.wr_id * slot, 1)[0]);
        const auto it = sent.find(k);
        BOOST_REQUIRE_MESSAGE(it != sent.end(), "receive " << wc.wr_id << " holds no message");
        const auto [i, len] = it->second;
        BOOST_TEST(wc.opcode == IBV_WC_RECV);
        BOOST_TEST(wc.byte_len == len);
        BOOST_TEST(wc.qp_num == recv.at(i)->qp_num);
        check_bytes(dst.part(wc.wr_id * slot, len), src.part(k * slot, len), "message");
    }

    srq_ptr srq;
    comp_channel_ptr channel; ///< rcq's
    cq_ptr scq;
    cq_ptr rcq;
    buffer src;
    buffer dst;
    std::vector<qp_ptr> send;
    std::vector<qp_ptr> recv; // destroyed before the SRQ: declared after it
};

} // namespace

BOOST_AUTO_TEST_SUITE(srq, *utf::precondition(devices_present{}))

BOOST_FIXTURE_TEST_CASE(two_qps_take_receives_from_one_srq, srq_fixture) {
    for (std::uint64_t r = 0; r < depth; ++r) {
        BOOST_REQUIRE_EQUAL(post_srq(r), 0);
    }
    std::map<std::uint8_t, std::pair<int, std::size_t>> sent;
    for (std::uint8_t k = 0; k < 12; ++k) {
        const int i = k % 3 == 0 ? 1 : 0;
        const std::size_t len = 1 + (k * 331) % slot; // some span several ring slots
        send_msg(i, k, len);
        sent[k] = {i, len};
    }
    std::map<std::uint64_t, int> taken;
    for (int n = 0; n < 12; ++n) {
        const ibv_wc wc = completion_within(*rcq);
        check_recv(wc, sent);
        BOOST_TEST(++taken[wc.wr_id] == 1, "receive " << wc.wr_id << " completed twice");
    }
    check_no_completion(*rcq);
    ibv_srq_attr attr{};
    BOOST_REQUIRE_EQUAL(ibv_query_srq(srq.get(), &attr), 0);
    BOOST_TEST(attr.max_wr >= depth);
    BOOST_TEST(attr.max_sge >= 1U);
}

// Waiting on the CQ's event, not polling: a poll of an empty CQ would drain the ring itself.
BOOST_FIXTURE_TEST_CASE(a_message_waits_for_the_next_post, srq_fixture) {
    BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(rcq.get(), 0), 0);
    send_msg(0, 7, 100);
    BOOST_TEST(!wait_cq_event(*channel, quiet_time).has_value());
    BOOST_REQUIRE_EQUAL(post_srq(3), 0);
    BOOST_REQUIRE_MESSAGE(wait_cq_event(*channel, recv_timeout).has_value(),
                          "no completion event after the post");
    const ibv_wc wc = completion_now(*rcq);
    check_recv(wc, {{7, {0, 100}}});
    BOOST_TEST(wc.wr_id == 3U);
}

BOOST_FIXTURE_TEST_CASE(the_limit_event_fires_once, srq_fixture) {
    for (std::uint64_t r = 0; r < 4; ++r) {
        BOOST_REQUIRE_EQUAL(post_srq(r), 0);
    }
    ibv_srq_attr attr{};
    attr.srq_limit = 3;
    BOOST_REQUIRE_EQUAL(ibv_modify_srq(srq.get(), &attr, IBV_SRQ_LIMIT), 0);
    BOOST_REQUIRE_EQUAL(ibv_query_srq(srq.get(), &attr), 0);
    BOOST_TEST(attr.srq_limit == 3U);
    send_msg(0, 0, 8); // 3 left: not fewer than the limit
    (void)completion_within(*rcq);
    BOOST_TEST(!wait_async_event(*ctx, quiet_time).has_value());
    send_msg(1, 1, 8); // 2 left
    (void)completion_within(*rcq);
    const auto ev = wait_async_event(*ctx, recv_timeout);
    BOOST_REQUIRE(ev.has_value());
    BOOST_TEST(ev->type == IBV_EVENT_SRQ_LIMIT_REACHED);
    BOOST_TEST(ev->srq == srq.get());
    BOOST_REQUIRE_EQUAL(ibv_query_srq(srq.get(), &attr), 0);
    BOOST_TEST(attr.srq_limit == 0U); // disarmed
    send_msg(0, 2, 8);
    (void)completion_within(*rcq);
    BOOST_TEST(!wait_async_event(*ctx, quiet_time).has_value());
}

BOOST_FIXTURE_TEST_CASE(a_qp_in_error_leaves_the_srq_to_the_others, srq_fixture) {
    BOOST_REQUIRE_EQUAL(post_srq(0), 0);
    BOOST_REQUIRE_EQUAL(post_srq(1), 0);
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_ERR;
    BOOST_REQUIRE_EQUAL(ibv_modify_qp(recv.at(0).get(), &attr, IBV_QP_STATE), 0);
    // the SRQ's receives are not the QP's: nothing is flushed, and the QP says it takes no more
    check_no_completion(*rcq);
    const auto ev = wait_async_event(*ctx, recv_timeout);
    BOOST_REQUIRE(ev.has_value());
    BOOST_TEST(ev->type == IBV_EVENT_QP_LAST_WQE_REACHED);
    BOOST_TEST(ev->qp == recv.at(0).get());
    BOOST_TEST(!wait_async_event(*ctx, quiet_time).has_value()); // once
    send_msg(1, 5, 64);
    check_recv(completion_within(*rcq), {{5, {1, 64}}});
    send_msg(1, 6, 64);
    check_recv(completion_within(*rcq), {{6, {1, 64}}});
}

BOOST_FIXTURE_TEST_CASE(bad_input_is_a_clean_error, srq_fixture) {
    for (const auto [wr, sge, limit] :
         {std::array<std::uint32_t, 3>{0, 1, 0}, std::array<std::uint32_t, 3>{4097, 1, 0},
          std::array<std::uint32_t, 3>{16, 17, 0}, std::array<std::uint32_t, 3>{16, 1, 17}}) {
        BOOST_TEST_CONTEXT("max_wr " << wr << ", max_sge " << sge << ", limit " << limit) {
            const srq_ptr bad = try_create_srq(*pd, wr, sge, limit);
            BOOST_TEST(bad == nullptr);
            BOOST_TEST(errno == EINVAL);
        }
    }
    ibv_srq_attr attr{};
    BOOST_REQUIRE_EQUAL(ibv_query_srq(srq.get(), &attr), 0);
    const std::uint32_t max_wr = attr.max_wr;
    attr.srq_limit = max_wr + 1;
    BOOST_TEST(ibv_modify_srq(srq.get(), &attr, IBV_SRQ_LIMIT) == EINVAL);
    attr.max_wr = 2 * max_wr;
    BOOST_TEST(ibv_modify_srq(srq.get(), &attr, IBV_SRQ_MAX_WR) == EOPNOTSUPP);

    std::vector<ibv_sge> sges(17, dst.sge(0, 8));
    ibv_recv_wr wr = recv_wr(sges, 99);
    ibv_recv_wr* bad = nullptr;
    BOOST_TEST(ibv_post_srq_recv(srq.get(), &wr, &bad) == EINVAL);
    BOOST_TEST(bad == &wr);
    for (std::uint64_t r = 0; r < max_wr; ++r) {
        BOOST_REQUIRE_EQUAL(post_srq(r % depth), 0);
    }
    BOOST_TEST(post_srq(0) == ENOMEM); // full

    ibv_sge s = dst.sge(0, 8);
    BOOST_TEST(post_recv(*recv.at(0), {&s, 1}) == EINVAL); // its receives are the SRQ's
    ibv_qp_attr qa{};
    ibv_qp_init_attr init{};
    BOOST_REQUIRE_EQUAL(ibv_query_qp(recv.at(0).get(), &qa, IBV_QP_CAP, &init), 0);
    BOOST_TEST(init.srq == srq.get());
    BOOST_TEST(init.cap.max_recv_wr == 0U);
    BOOST_TEST(ibv_destroy_srq(srq.get()) == EBUSY); // QPs are attached

    // what was posted is still there: the full SRQ takes messages
    send_msg(0, 1, 32);
    BOOST_TEST(completion_within(*rcq).status == IBV_WC_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace dibs::conformance

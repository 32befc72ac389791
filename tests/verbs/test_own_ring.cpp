// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance, suite own_ring: receiving in the process (include/uapi/rdma/dibs-rdma-abi.h,
// "Receiving in the process"; kernel/dibs_rdma_resp.c, dibs_rdma_rx_claim(); providers/dibs/
// recv.hpp), in both data-path modes: the provider drains its QP's own receive ring through an
// own-ring window, or (DIBS_RDMA_BYPASS=0) the kernel does - both through the one drain word.
//
//   positions     after each message, the receive queue ring's page says where the drain
//                 stopped (rx_cons, cons) and that nobody holds it; the own-ring window is
//                 mapped with the bypass data path only, for the QP whose CQ was polled
//   handover      while someone else holds the drain (the test, as a process would), neither
//                 the provider nor the kernel delivers a message; arming the CQ makes the
//                 kernel ask for the drain (RX_PENDING); once it is given back, the message
//                 completes, and the armed CQ's event fires
//   no_syscalls   a ping of SENDs of one and of several slots - post_recv, post_send, both
//                 polls - makes no system call with the bypass data path (counted with the
//                 raw_syscalls:sys_enter tracepoint), and does with DIBS_RDMA_BYPASS=0
//   bad_input     DIBS_RDMA_METHOD_QP_OPEN_OWN_RING before RTR, on a bad handle, with a short
//                 response; its mmap rules; a modify revokes it
//
// Mixed messages - one slot (the provider's), many slots (the kernel's) - in order are
// ring_window/interleaved; the armed word of a polling owner is ring_window/doorbell. The
// kernel log is checked by the VM runner.
#include "conformance.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <rdma/dibs-rdma-abi.h>
#include <rdma/dibs-rdma-wire.h>
#include <sys/mman.h>
#include <unistd.h>

namespace dibs::conformance {
namespace {

constexpr std::size_t page = 4096;
/// An own-ring window maps the ring's whole pages.
constexpr std::size_t own_window_len = sizeof(dibs_rdma_ring) / page * page;

/// Does pred() hold within recv_timeout? A kernel drain (a signal's) may still be giving the
/// drain back when its completion is seen.
template <class Pred>
[[nodiscard]] bool eventually(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + recv_timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

int open_own_ring(int cmd_fd, std::uint32_t qp_handle, dibs_rdma_window_resp& resp,
                  std::size_t resp_len = sizeof(dibs_rdma_window_resp)) {
    return open_ring_method(cmd_fd, DIBS_RDMA_METHOD_QP_OPEN_OWN_RING, qp_handle, resp, resp_len);
}

/// a sends to b on dut(). b's receive queue ring is the one under test; b's CQ has a completion
/// channel; a's receive CQ is never polled, so only b may have an own-ring window.
struct own_fixture : lo0_device {
    own_fixture()
        : channel(create_comp_channel(*ctx))
        , ca(create_cq(*ctx, 64))
        , ca_recv(create_cq(*ctx, 64))
        , cb(create_cq(*ctx, 64, channel.get()))
        , buf(*pd, 65536, all_access) {
        qa = create_rc_qp(*pd, *ca, *ca_recv);
        const auto before = uverbs_mappings();
        qb = create_rc_qp(*pd, *cb, *cb);
        map = new_qp_rings(before, uverbs_mappings()).rq;
        connect_qp(*qa, endpoint_of(*qb));
        connect_qp(*qb, endpoint_of(*qa));
    }

    [[nodiscard]] dibs_rdma_rq_ring& rq() const {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast,performance-no-int-to-ptr)
        return *reinterpret_cast<dibs_rdma_rq_ring*>(map.start);
    }
    [[nodiscard]] std::atomic_ref<std::uint32_t> owner() const {
        return std::atomic_ref(rq().rx_owner);
    }

    /// b receives up to 1000 bytes in the second half of buf.
    void post_receive(std::uint64_t wr_id) {
        ibv_sge sg = buf.sge(32768, 1000);
        BOOST_REQUIRE_EQUAL(post_recv(*qb, {&sg, 1}, wr_id), 0);
    }
    /// a sends `len` bytes from the first half of buf; its completion is checked.
    void send(std::size_t len) {
        ibv_sge sg = buf.sge(0, len);
        (void)post_and_complete(*qa, *ca, send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    }
    /// b's completion of receive wr_id, `len` bytes.
    // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the receive, then its length
    void check_received(std::uint64_t wr_id, std::size_t len) {
        const ibv_wc wc = completion_within(*cb);
        BOOST_REQUIRE_MESSAGE(wc.status == IBV_WC_SUCCESS, name(wc.status));
        BOOST_TEST(wc.wr_id == wr_id);
        BOOST_TEST(wc.opcode == IBV_WC_RECV);
        BOOST_TEST(wc.byte_len == len);
        BOOST_TEST(wc.qp_num == qb->qp_num);
        BOOST_TEST(wc.src_qp == qa->qp_num);
        check_bytes(buf.part(32768, len), buf.part(0, len), "received message");
    }

    comp_channel_ptr channel;
    cq_ptr ca;
    cq_ptr ca_recv;
    cq_ptr cb;
    buffer buf;
    qp_ptr qa;
    qp_ptr qb;
    uverbs_mapping map;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(own_ring, own_fixture)

BOOST_AUTO_TEST_CASE(positions) {
    for (std::size_t i = 1; i <= 5; ++i) {
        BOOST_TEST_CONTEXT("message " << i) {
            post_receive(i);
            send(10 * i);
            check_received(i, 10 * i);
            BOOST_TEST(eventually([&] { return owner().load() == 0U; }), "the drain is given back");
            BOOST_TEST(std::atomic_ref(rq().rx_cons).load() == i, "one slot per message");
            BOOST_TEST(std::atomic_ref(rq().cons).load() == i, "one receive per message");
        }
    }
    BOOST_TEST(window_mappings(window_kind::own_ring).size() == (bypass() ? 1U : 0U),
               (bypass() ? "b's own ring is mapped, a's is not"
                         : "no own-ring window with DIBS_RDMA_BYPASS=0"));
}

BOOST_AUTO_TEST_CASE(handover) {
    post_receive(1);
    send(10);
    check_received(1, 10); // the own-ring window is open, and b's ring disarmed

    // the test holds the drain, as a process between its claim and its release
    post_receive(2);
    BOOST_REQUIRE(eventually([&] {
        std::uint32_t expected = 0;
        return owner().compare_exchange_strong(expected, DIBS_RDMA_RX_USER);
    }));
    send(20);
    check_no_completion(*cb); // neither the provider nor the kernel drains
    BOOST_TEST((owner().load() & DIBS_RDMA_RX_USER) != 0U);

    // arming makes the kernel drain - it finds the drain held and asks for it
    BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cb.get(), 0), 0);
    BOOST_TEST(owner().load() == (DIBS_RDMA_RX_USER | DIBS_RDMA_RX_PENDING));
    BOOST_TEST(!wait_cq_event(*channel, quiet_time), "no event while the message waits");

    // given back: the holder saw RX_PENDING, so it polls, which makes the kernel drain
    BOOST_REQUIRE_EQUAL(owner().exchange(0), DIBS_RDMA_RX_USER | DIBS_RDMA_RX_PENDING);
    check_received(2, 20);
    BOOST_TEST(wait_cq_event(*channel, recv_timeout).has_value(), "the armed CQ's event fires");
    BOOST_TEST(eventually([&] { return owner().load() == 0U; }));

    // and the next message is the process's again
    post_receive(3);
    send(30);
    check_received(3, 30);
    BOOST_TEST(eventually([&] { return std::atomic_ref(rq().rx_cons).load() == 3U; }));
}

BOOST_AUTO_TEST_CASE(no_syscalls) {
    // 10000 bytes: three slots
    constexpr std::array<std::size_t, 4> lens{2, 100, 4000, 10000};
    ibv_sge rsg = buf.sge(32768, 16384);
    ibv_recv_wr rwr{.wr_id = 0, .next = nullptr, .sg_list = &rsg, .num_sge = 1};
    ibv_sge ssg{};
    ibv_send_wr swr = send_wr(IBV_WR_SEND, {&ssg, 1});
    ibv_recv_wr* bad_rwr = nullptr;
    ibv_send_wr* bad_swr = nullptr;
    ibv_wc wc{};
    // one ping: what the loop below does, also to open the windows
    const auto ping = [&](std::size_t len) {
        ssg = buf.sge(0, len);
        bool ok = ibv_post_recv(qb.get(), &rwr, &bad_rwr) == 0;
        ok = ok && ibv_post_send(qa.get(), &swr, &bad_swr) == 0;
        int got = 0;
        while (ok && (got = ibv_poll_cq(ca.get(), 1, &wc)) == 0) {
        }
        ok = ok && got == 1 && wc.status == IBV_WC_SUCCESS;
        while (ok && (got = ibv_poll_cq(cb.get(), 1, &wc)) == 0) {
        }
        return ok && got == 1 && wc.status == IBV_WC_SUCCESS && wc.byte_len == len;
    };
    for (const std::size_t len : lens) {
        BOOST_REQUIRE(ping(len));
    }
    const syscall_counter counter;
    const std::uint64_t start = counter.count();
    bool ok = true;
    for (int round = 0; round < 10; ++round) {
        for (const std::size_t len : lens) {
            ok = ok && ping(len);
        }
    }
    const std::uint64_t calls = counter.count() - start - 1; // the second read
    BOOST_TEST(ok, "every ping completed");
    if (bypass()) {
        BOOST_TEST(calls == 0U, calls << " system calls in 40 pings");
    } else {
        BOOST_TEST(calls >= 40U, "the kernel path makes system calls (the counter counts)");
    }
    check_bytes(buf.part(32768, lens.back()), buf.part(0, lens.back()), "the last message");
}

BOOST_AUTO_TEST_CASE(bad_input) {
    dibs_rdma_window_resp resp{};
    const int fd = ctx->cmd_fd;
    const cq_ptr cq = create_cq(*ctx, 16);
    const qp_ptr q = create_rc_qp(*pd, *cq, *cq);
    BOOST_TEST(open_own_ring(fd, q->handle, resp) == EINVAL, "QP in RESET");
    qp_to_init(*q, remote_all);
    BOOST_TEST(open_own_ring(fd, q->handle, resp) == EINVAL, "QP in INIT");
    qp_to_rtr(*q, endpoint_of(*qb), addressing::lid);
    BOOST_TEST(open_own_ring(fd, 0xdead, resp) != 0, "no such QP handle");
    BOOST_TEST(open_own_ring(fd, q->handle, resp, sizeof(resp) - 8) != 0, "response too short");

    // in RTR: a QP receives before it sends
    BOOST_TEST_REQUIRE(open_own_ring(fd, q->handle, resp) == 0);
    BOOST_TEST(resp.iova == 0U);
    BOOST_TEST(resp.length == own_window_len);
    BOOST_TEST(resp.access == static_cast<std::uint32_t>(IBV_ACCESS_REMOTE_WRITE));
    check_ring_window_mmap(fd, resp, "own-ring window");
    // every modify revokes it
    qp_to_rts(*q);
    BOOST_TEST(try_mmap(fd, resp.mmap_offset, page, PROT_READ) == EINVAL, "a revoked window");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace dibs::conformance

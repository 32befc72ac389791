// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance, suite ring_window: SEND and WRITE_WITH_IMM without the kernel - the
// provider writes them into the peer QP's receive ring through a ring window
// (include/uapi/rdma/dibs-rdma-abi.h, "Ring windows"; include/uapi/rdma/dibs-rdma-wire.h;
// kernel/dibs_rdma_window.c; providers/dibs/send.hpp). In both data-path modes: with
// DIBS_RDMA_BYPASS=0 no ring window may be mapped, and everything must work the same.
//
//   data          messages of 0 bytes to more than the ring holds (the kernel's), inline
//                 data, several SGEs, byte for byte; the ring window is mapped (bypass)
//   immediate     SEND_WITH_IMM and WRITE_WITH_IMM, through a window and to a write-only MR
//                 (which has none: the kernel's)
//   interleaved   one post_send of messages that alternate between the provider and the
//                 kernel: they arrive in order, whole
//   doorbell      the provider rings only while the receive CQ is armed: the event arrives
//                 though nothing but the doorbell tells the owner; otherwise the owner finds
//                 the message when it polls
//   ring_full     with no receive posted the ring fills; what follows waits in the kernel
//                 until receives are posted, and everything arrives in order
//   peer_modify   the peer QP's RTS -> RTS keeps the window; its error state revokes it, and
//                 the next SEND fails cleanly
//   revoke_*      a sender in a tight loop while the receiver moves to the error state or is
//                 destroyed: the sender ends with an error completion, nothing else happens
//   garbage       a sender that writes random bytes over the whole ring: the owner stays
//                 sane (the kernel log is checked by the VM runner)
//   bad_input     every error of the open-ring method and of its mmap
#include "conformance.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rdma/dibs-rdma-abi.h>
#include <rdma/dibs-rdma-wire.h>
#include <sys/mman.h>

namespace dibs::conformance {
namespace {

constexpr std::size_t page = 4096;
/// A ring window maps the ring's header and slots.
constexpr std::size_t ring_window_len =
    (offsetof(dibs_rdma_ring, resp_data) + page - 1) / page * page;
/// More than the ring's slots hold: such a SEND is the kernel's.
constexpr std::size_t big = DIBS_RDMA_RING_SLOTS * DIBS_RDMA_SLOT_DATA + 1000;

/// The ring windows mapped in this process: their start addresses.
std::vector<std::uintptr_t> ring_windows() {
    std::vector<std::uintptr_t> v;
    for (const uverbs_mapping& m : window_mappings(window_kind::ring)) {
        v.push_back(m.start);
    }
    return v;
}

int open_ring(int cmd_fd, std::uint32_t qp_handle, dibs_rdma_window_resp& resp,
              std::size_t resp_len = sizeof(dibs_rdma_window_resp)) {
    return open_ring_method(cmd_fd, DIBS_RDMA_METHOD_QP_OPEN_RING, qp_handle, resp, resp_len);
}

int open_ring(ibv_qp& qp, dibs_rdma_window_resp& resp) {
    return open_ring(qp.context->cmd_fd, qp.handle, resp);
}

/// a sends to b on dut(); b's CQ has a completion channel. 1 MiB buffers on each side.
struct ring_fixture : lo0_device {
    ring_fixture()
        : channel(create_comp_channel(*ctx))
        , ca(create_cq(*ctx, 512))
        , cb(create_cq(*ctx, 512, channel.get()))
        , src(*pd, 1U << 20, all_access)
        , dst(*pd, 1U << 20, all_access) {
        qp_caps caps;
        caps.max_send_wr = 128;
        caps.max_recv_wr = 128;
        caps.max_inline_data = 256;
        qa = create_rc_qp(*pd, *ca, *ca, caps);
        qb = create_rc_qp(*pd, *cb, *cb, caps);
        connect_qp(*qa, endpoint_of(*qb));
        connect_qp(*qb, endpoint_of(*qa));
    }

    /// b receives up to `len` bytes at `off` of dst.
    void post_receive(std::uint64_t wr_id, std::size_t off = 0, std::size_t len = big) {
        ibv_sge sg = dst.sge(off, len);
        BOOST_REQUIRE_EQUAL(post_recv(*qb, {&sg, 1}, wr_id), 0);
    }
    /// a sends `len` bytes at `off` of src and checks its completion.
    void send(std::size_t off, std::size_t len, unsigned flags = IBV_SEND_SIGNALED) {
        ibv_sge sg = src.sge(off, len);
        const ibv_wc wc =
            post_and_complete(*qa, *ca, send_wr(IBV_WR_SEND, {&sg, 1}, flags), IBV_WC_SUCCESS);
        BOOST_TEST(wc.opcode == IBV_WC_SEND);
    }
    /// b's next completion: a receive of `len` bytes, landed at dst's `doff` from src's `soff`.
    void check_received(std::uint64_t wr_id, std::size_t soff, std::size_t doff, std::size_t len) {
        const ibv_wc wc = completion_within(*cb);
        BOOST_REQUIRE_MESSAGE(wc.status == IBV_WC_SUCCESS, name(wc.status));
        BOOST_TEST(wc.wr_id == wr_id);
        BOOST_TEST(wc.opcode == IBV_WC_RECV);
        BOOST_TEST(wc.byte_len == len);
        check_bytes(dst.part(doff, len), src.part(soff, len), "received message");
    }
    /// The provider's ring window of qa, which must be the only one.
    [[nodiscard]] static dibs_rdma_ring& ring() {
        const auto w = ring_windows();
        BOOST_REQUIRE_EQUAL(w.size(), 1U);
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast,performance-no-int-to-ptr)
        return *reinterpret_cast<dibs_rdma_ring*>(w.front());
    }
    /// The number of ring windows is what the data-path mode makes it.
    static void check_ring_windows(std::size_t with_bypass) {
        BOOST_TEST(ring_windows().size() == (bypass() ? with_bypass : 0U),
                   (bypass() ? "the provider maps a ring window"
                             : "no ring window with DIBS_RDMA_BYPASS=0"));
    }

    comp_channel_ptr channel;
    cq_ptr ca;
    cq_ptr cb;
    buffer src;
    buffer dst;
    qp_ptr qa;
    qp_ptr qb;
};

/// a sends in a tight loop while b polls and reposts its receives in a thread of its own, until
/// stop() or a's first error completion; then reports what a saw.
class traffic {
public:
    explicit traffic(ring_fixture& f) : f_(f) {
        for (std::uint64_t i = 0; i < 128; ++i) {
            f_.post_receive(i, (i % 16) * 4096, 4096);
        }
        receiver_ = std::thread{[this] { receive(); }};
        sender_ = std::thread{[this] { send(); }};
    }
    traffic(const traffic&) = delete;
    traffic& operator=(const traffic&) = delete;
    traffic(traffic&&) = delete;
    traffic& operator=(traffic&&) = delete;
    ~traffic() {
        stop_receiver();
        if (sender_.joinable()) {
            sender_.join();
        }
    }

    /// Waits until a has sent `n` messages.
    void wait_sent(std::uint64_t n) const {
        const auto until = std::chrono::steady_clock::now() + recv_timeout;
        while (sent_.load() < n && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(1ms);
        }
    }
    void stop_receiver() {
        stop_rx_ = true;
        if (receiver_.joinable()) {
            receiver_.join();
        }
    }
    /// Waits for the sender's end; its last status.
    [[nodiscard]] ibv_wc_status end() {
        sender_.join();
        return last_;
    }
    [[nodiscard]] std::uint64_t sent() const { return sent_.load(); }

private:
    void send() {
        const auto until = std::chrono::steady_clock::now() + 30s;
        while (std::chrono::steady_clock::now() < until) {
            ibv_sge sg = f_.src.sge(0, 1000);
            if (post(*f_.qa, send_wr(IBV_WR_SEND, {&sg, 1}), sent_.load()) != 0) {
                last_ = IBV_WC_GENERAL_ERR;
                return;
            }
            const std::optional<ibv_wc> wc = poll_wait(*f_.ca, recv_timeout);
            if (!wc || wc->status != IBV_WC_SUCCESS) {
                last_ = wc ? wc->status : IBV_WC_RESP_TIMEOUT_ERR;
                return;
            }
            ++sent_;
        }
        last_ = IBV_WC_SUCCESS; // never stopped
    }
    void receive() {
        while (!stop_rx_) {
            const std::optional<ibv_wc> wc = poll_now(*f_.cb);
            if (wc && wc->status == IBV_WC_SUCCESS) {
                ibv_sge sg = f_.dst.sge((wc->wr_id % 16) * 4096, 4096);
                (void)post_recv(*f_.qb, {&sg, 1}, wc->wr_id);
            }
        }
    }

    ring_fixture& f_;
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<bool> stop_rx_{false};
    ibv_wc_status last_ = IBV_WC_SUCCESS;
    std::thread receiver_;
    std::thread sender_;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(ring_window, ring_fixture, *utf::precondition(devices_present{{dut()}}))

BOOST_AUTO_TEST_CASE(data) {
    const std::array<std::size_t, 7> sizes{
        0, 1, 200, DIBS_RDMA_SLOT_DATA, DIBS_RDMA_SLOT_DATA + 1, 65536, big};
    std::uint64_t id = 0;
    for (const std::size_t len : sizes) {
        BOOST_TEST_CONTEXT("a SEND of " << len << " bytes") {
            post_receive(++id);
            send(1000 + id, len, IBV_SEND_SIGNALED | (len == 200 ? unsigned{IBV_SEND_INLINE} : 0U));
            check_received(id, 1000 + id, 0, len);
        }
    }
    check_ring_windows(1);

    // three SGEs into two
    std::array<ibv_sge, 3> sg{src.sge(0, 3000), src.sge(10000, 5000), src.sge(50000, 1)};
    std::array<ibv_sge, 2> rg{dst.sge(0, 4000), dst.sge(100000, 4001)};
    BOOST_REQUIRE_EQUAL(post_recv(*qb, rg, 77), 0);
    (void)post_and_complete(*qa, *ca, send_wr(IBV_WR_SEND, sg), IBV_WC_SUCCESS);
    const ibv_wc wc = completion_within(*cb);
    BOOST_REQUIRE_MESSAGE(wc.status == IBV_WC_SUCCESS, name(wc.status));
    BOOST_TEST(wc.byte_len == 8001U);
    std::vector<std::byte> want;
    for (const ibv_sge& s : sg) {
        const auto p = src.part(s.addr - src.addr(), s.length);
        want.insert(want.end(), p.begin(), p.end());
    }
    check_bytes(dst.part(0, 4000), std::span{want}.first(4000), "first receive SGE");
    check_bytes(dst.part(100000, 4001), std::span{want}.subspan(4000), "second receive SGE");
}

BOOST_AUTO_TEST_CASE(immediate) {
    post_receive(1);
    ibv_sge sg = src.sge(0, 100);
    (void)post_and_complete(*qa, *ca,
                            send_wr(IBV_WR_SEND_WITH_IMM, {&sg, 1}, IBV_SEND_SIGNALED, 0x12345678),
                            IBV_WC_SUCCESS);
    ibv_wc wc = completion_within(*cb);
    BOOST_REQUIRE_MESSAGE(wc.status == IBV_WC_SUCCESS, name(wc.status));
    BOOST_TEST(wc.opcode == IBV_WC_RECV);
    BOOST_TEST((wc.wc_flags & IBV_WC_WITH_IMM) != 0);
    BOOST_TEST(imm_of(wc) == 0x12345678U);
    check_bytes(dst.part(0, 100), src.part(0, 100), "SEND_WITH_IMM");

    // into the interior of dst (a window), and into a write-only MR (the kernel's data)
    std::vector<std::byte> wo_mem(65536);
    const mr_ptr wo = reg_mr(*pd, wo_mem, access::local_write | access::remote_write);
    struct target {
        std::uint64_t addr;
        std::uint32_t rkey;
        std::span<std::byte> bytes;
    };
    for (const target& t :
         {target{dst.addr(8192), dst.key(), dst.part(8192, 5000)},
          target{addr_of(wo_mem.data()), wo->rkey, std::span{wo_mem}.first(5000)}}) {
        post_receive(2);
        ibv_sge wsg = src.sge(20000, 5000);
        const ibv_wc swc = post_and_complete(*qa, *ca,
                                             rdma_wr(IBV_WR_RDMA_WRITE_WITH_IMM, {&wsg, 1}, t.addr,
                                                     t.rkey, IBV_SEND_SIGNALED, 0xabcdef01),
                                             IBV_WC_SUCCESS);
        BOOST_TEST(swc.opcode == IBV_WC_RDMA_WRITE);
        wc = completion_within(*cb);
        BOOST_REQUIRE_MESSAGE(wc.status == IBV_WC_SUCCESS, name(wc.status));
        BOOST_TEST(wc.opcode == IBV_WC_RECV_RDMA_WITH_IMM);
        BOOST_TEST(wc.byte_len == 5000U);
        BOOST_TEST(imm_of(wc) == 0xabcdef01U);
        check_bytes(t.bytes, src.part(20000, 5000), "WRITE_WITH_IMM data");
    }
    check_ring_windows(1);
}

BOOST_AUTO_TEST_CASE(interleaved) {
    constexpr std::size_t n = 7; // three big ones: dst holds them all side by side
    // one post_send: small (the provider's) and big (the kernel's) messages alternate
    std::array<ibv_sge, n> sg{};
    std::array<ibv_send_wr, n> wr{};
    std::array<std::size_t, n> at{};
    std::size_t off = 0;
    for (std::size_t i = 0; i < n; ++i) {
        sg.at(i) = src.sge(i * 1000, i % 2 == 0 ? 100 + i : big);
        wr.at(i) = send_wr(IBV_WR_SEND, {&sg.at(i), 1});
        wr.at(i).wr_id = i;
        wr.at(i).next = i + 1 < n ? &wr.at(i + 1) : nullptr;
        at.at(i) = off;
        post_receive(i, off, sg.at(i).length);
        off += sg.at(i).length;
    }
    ibv_send_wr* bad = nullptr;
    BOOST_REQUIRE_EQUAL(ibv_post_send(qa.get(), wr.data(), &bad), 0);
    for (std::uint64_t i = 0; i < n; ++i) {
        BOOST_TEST_CONTEXT("message " << i) {
            const ibv_wc swc = completion_within(*ca);
            BOOST_TEST(name(swc.status) == name(IBV_WC_SUCCESS));
            BOOST_TEST(swc.wr_id == i, "send completions in order");
            check_received(i, i * 1000, at.at(i), sg.at(i).length);
        }
    }
    check_no_completion(*cb);
}

BOOST_AUTO_TEST_CASE(doorbell) {
    // b not armed: a's message waits until b polls - and finds it
    post_receive(1);
    send(0, 100);
    check_received(1, 0, 0, 100);
    if (bypass()) {
        dibs_rdma_ring& r = ring();
        BOOST_TEST(std::atomic_ref(r.armed).load() == 0U, "a polling owner asks for no signal");
        std::atomic_ref(r.bell).store(0);
        post_receive(2);
        send(0, 200);
        check_received(2, 0, 0, 200);
        BOOST_TEST(std::atomic_ref(r.bell).load() == 0U, "no doorbell while b's CQ is not armed");
    }
    // armed: the event comes though b does not poll before it
    for (std::uint64_t id = 3; id < 6; ++id) {
        BOOST_TEST_CONTEXT("armed, message " << id) {
            post_receive(id);
            BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cb.get(), 0), 0);
            if (bypass()) {
                BOOST_TEST(std::atomic_ref(ring().armed).load() != 0U);
            }
            send(0, 300);
            const std::optional<ibv_cq*> ev = wait_cq_event(*channel, recv_timeout);
            BOOST_REQUIRE_MESSAGE(ev, "no completion event for a message to an armed CQ");
            check_received(id, 0, 0, 300);
            if (bypass()) {
                BOOST_TEST(std::atomic_ref(ring().bell).load() == 1U, "the doorbell rang");
            }
        }
    }
    check_ring_windows(1);
}

BOOST_AUTO_TEST_CASE(ring_full) {
    constexpr std::uint64_t n = 100;
    std::atomic<int> post_err{0}; // Boost.Test asserts in the main thread only
    std::thread sender{[this, &post_err] {
        for (std::uint64_t i = 0; i < n && post_err == 0; ++i) {
            ibv_sge sg = src.sge(i * 100, 100);
            post_err = post(*qa, send_wr(IBV_WR_SEND, {&sg, 1}), i);
        }
    }};
    // the ring takes DIBS_RDMA_RING_SLOTS; the rest wait in the kernel for the receives
    std::this_thread::sleep_for(300ms);
    for (std::uint64_t i = 0; i < n; ++i) {
        post_receive(i, i * 100, 100);
    }
    sender.join();
    BOOST_REQUIRE_EQUAL(post_err.load(), 0);
    for (std::uint64_t i = 0; i < n; ++i) {
        BOOST_TEST_CONTEXT("message " << i) {
            const ibv_wc swc = completion_within(*ca);
            BOOST_REQUIRE_MESSAGE(swc.status == IBV_WC_SUCCESS, name(swc.status));
            BOOST_TEST(swc.wr_id == i);
            const ibv_wc wc = completion_within(*cb);
            BOOST_REQUIRE_MESSAGE(wc.status == IBV_WC_SUCCESS, name(wc.status));
            BOOST_TEST(wc.wr_id == i, "receives complete in order");
            BOOST_TEST(wc.byte_len == 100U);
        }
    }
    check_bytes(dst.part(0, n * 100), src.part(0, n * 100), "every message in its receive");
}

BOOST_AUTO_TEST_CASE(peer_modify) {
    post_receive(1);
    send(0, 100);
    check_received(1, 0, 0, 100);
    const auto before = ring_windows();
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_RTS;
    attr.min_rnr_timer = 5;
    modify_qp(*qb, attr, IBV_QP_STATE | IBV_QP_MIN_RNR_TIMER);
    post_receive(2);
    send(0, 200);
    check_received(2, 0, 0, 200);
    BOOST_TEST(ring_windows() == before, "RTS -> RTS of the peer keeps the ring window");

    attr.qp_state = IBV_QPS_ERR;
    modify_qp(*qb, attr, IBV_QP_STATE);
    (void)drain(*cb); // the flushed receive
    ibv_sge sg = src.sge(0, 100);
    BOOST_REQUIRE_EQUAL(post(*qa, send_wr(IBV_WR_SEND, {&sg, 1}), 3), 0);
    const ibv_wc wc = completion_within(*ca);
    BOOST_TEST(wc.status != IBV_WC_SUCCESS, "a SEND to a QP in the error state fails");
    BOOST_TEST(ring_windows().empty(), "the revoked ring window is unmapped");
}

BOOST_AUTO_TEST_CASE(revoke_peer_error) {
    traffic t{*this};
    t.wait_sent(200);
    BOOST_REQUIRE_GE(t.sent(), 200U);
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_ERR;
    modify_qp(*qb, attr, IBV_QP_STATE);
    const ibv_wc_status st = t.end();
    BOOST_TEST(st != IBV_WC_SUCCESS, "the sender ends with an error completion");
    BOOST_TEST(st != IBV_WC_GENERAL_ERR, "post_send itself did not fail");
    BOOST_TEST(wait_qp_state(*qa, IBV_QPS_ERR));
    BOOST_TEST_MESSAGE("sent " << t.sent() << " messages, then " << name(st));
}

BOOST_AUTO_TEST_CASE(revoke_peer_destroyed) {
    traffic t{*this};
    t.wait_sent(200);
    BOOST_REQUIRE_GE(t.sent(), 200U);
    t.stop_receiver();
    qb.reset(); // while a writes: its window onto b's ring goes first
    const ibv_wc_status st = t.end();
    BOOST_TEST(st != IBV_WC_SUCCESS, "the sender ends with an error completion");
    BOOST_TEST(st != IBV_WC_GENERAL_ERR, "post_send itself did not fail");
    BOOST_TEST_MESSAGE("sent " << t.sent() << " messages, then " << name(st));
}

BOOST_AUTO_TEST_CASE(garbage) {
    dibs_rdma_window_resp resp{};
    BOOST_REQUIRE_EQUAL(open_ring(*qa, resp), 0);
    void* p = ::mmap(nullptr, resp.length, PROT_READ | PROT_WRITE, MAP_SHARED, ctx->cmd_fd,
                     static_cast<off_t>(resp.mmap_offset));
    BOOST_REQUIRE(p != MAP_FAILED);
    auto& r = *static_cast<dibs_rdma_ring*>(p);
    const std::span<std::byte> bytes{static_cast<std::byte*>(p), resp.length};
    for (std::uint64_t round = 0; round < 8; ++round) {
        fill_random(bytes);
        // every slot complete for the consumer indices [64 * round, 64 * round + 64): the
        // owner's is 0 in the first round
        for (std::uint64_t j = 0; j < DIBS_RDMA_RING_SLOTS; ++j) {
            dibs_rdma_slot& s = std::span{r.slots}[j];
            s.hdr.seq = round * DIBS_RDMA_RING_SLOTS + j + 1;
            s.hdr.opcode = static_cast<std::uint32_t>(rng()() % 8);
        }
        post_receive(round, 0, 4096);
        ibv_sge sg = src.sge(0, 100);
        BOOST_REQUIRE_EQUAL(post(*qa, send_wr(IBV_WR_SEND, {&sg, 1}), round), 0);
        (void)poll_wait(*ca, recv_timeout); // any status: the ring is nonsense
        (void)poll_wait(*cb, quiet_time);
    }
    BOOST_TEST(::munmap(p, resp.length) == 0);
    // the device still works
    rc_pair fresh = rc_pair::create(*pd, *pd);
    ibv_sge rsg = dst.sge(0, 100);
    BOOST_REQUIRE_EQUAL(post_recv(*fresh.b.qp, {&rsg, 1}, 1), 0);
    ibv_sge sg = src.sge(0, 100);
    (void)post_and_complete(*fresh.a.qp, *fresh.a.cq, send_wr(IBV_WR_SEND, {&sg, 1}),
                            IBV_WC_SUCCESS);
    const ibv_wc wc = completion_within(*fresh.b.cq);
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
    check_bytes(dst.part(0, 100), src.part(0, 100), "a message after the garbage");
}

BOOST_AUTO_TEST_CASE(bad_input) {
    dibs_rdma_window_resp resp{};
    const int fd = ctx->cmd_fd;
    const cq_ptr cq = create_cq(*ctx, 16);
    const qp_ptr q = create_rc_qp(*pd, *cq, *cq);
    BOOST_TEST(open_ring(*q, resp) == EINVAL, "QP in RESET");
    qp_to_init(*q, remote_all);
    BOOST_TEST(open_ring(*q, resp) == EINVAL, "QP in INIT");
    qp_to_rtr(*q, endpoint_of(*qb), addressing::lid);
    BOOST_TEST(open_ring(*q, resp) == EINVAL, "QP in RTR");
    qp_to_rts(*q);
    BOOST_TEST(open_ring(*q, resp) == ENOTCONN, "peer QP not connected back");
    BOOST_TEST(open_ring(fd, 0xdead, resp) != 0, "no such QP handle");
    BOOST_TEST(open_ring(fd, qa->handle, resp, sizeof(resp) - 8) != 0, "response too short");

    BOOST_TEST_REQUIRE(open_ring(*qa, resp) == 0);
    BOOST_TEST(resp.iova == 0U);
    BOOST_TEST(resp.length == ring_window_len);
    BOOST_TEST(resp.access == static_cast<std::uint32_t>(IBV_ACCESS_REMOTE_WRITE));
    check_ring_window_mmap(fd, resp, "ring window");
    // revoked with the QP's next modify: a stale window maps no more
    qp_to_reset(*qa);
    BOOST_TEST(try_mmap(fd, resp.mmap_offset, page, PROT_READ) == EINVAL, "a revoked window");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace dibs::conformance

// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance, suites resize_cq and rereg_mr on dut(): CQ and MR maintenance.
//
// resize_cq: up and down, with the completions not yet polled kept in order - those the kernel
// wrote into the CQ ring and, on the bypass data path, those the provider holds itself (an armed
// CQ leaves the work to the kernel, so arming before some WRs mixes the two); fewer entries than
// are outstanding is EINVAL and changes nothing; an armed CQ stays armed.
//
// rereg_mr: a new translation, new access rights, a new PD, each checked through the new keys
// (ibv_rereg_mr may change them, and dibs does); the old keys stop working, also for a peer that
// was writing through them (its direct window is revoked: nothing lands in the old memory); a
// rereg the kernel refuses leaves the MR as it was.
#include "conformance.hpp"

#include <cstring>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace dibs::conformance {
namespace {

/// An RC pair on dut() whose requester CQ (cq_a, 16 entries) reports to a completion channel.
struct maint_fixture : lo0_device {
    static constexpr std::size_t size = 65536;
    /// Where in dst the WRITEs go: in its whole pages, which a direct window maps (the bytes of
    /// a partial page are not the MR's, so those WRs are the kernel's).
    static constexpr std::size_t at = 8192;

    maint_fixture()
        : channel(create_comp_channel(*ctx))
        , cq_a(create_cq(*ctx, 16, channel.get()))
        , cq_b(create_cq(*ctx, 16))
        , qp_a(create_rc_qp(*pd, *cq_a, *cq_a))
        , qp_b(create_rc_qp(*pd, *cq_b, *cq_b))
        , src(*pd, size, access::local_write)
        , dst(*pd, size, all_access) {
        connect_qp(*qp_a, endpoint_of(*qp_b));
        connect_qp(*qp_b, endpoint_of(*qp_a));
    }

    /// Posts signaled 8-byte RDMA WRITEs src -> dst at `at` + 8 * wr_id for wr_ids [first,
    /// first + n). Those at an index with arm(i) are posted with cq_a armed: the kernel executes
    /// them, so their completions are in the CQ ring (each raises an event, consumed here). The
    /// others the bypass data path executes itself: no system call, and the provider holds
    /// their completions.
    template <class Arm>
    void write(std::uint64_t first, std::uint64_t n, Arm arm) {
        for (std::uint64_t i = first; i < first + n; ++i) {
            const bool armed = arm(i);
            if (armed) {
                BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cq_a.get(), 0), 0);
            }
            ibv_sge s = src.sge(8 * i, 8);
            const syscall_counter calls;
            const std::uint64_t start = calls.count();
            BOOST_REQUIRE_EQUAL(
                post(*qp_a, rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, dst.addr(at + 8 * i), dst.key()),
                     i),
                0);
            if (bypass() && !armed && std::exchange(window_open, true)) {
                BOOST_TEST(calls.count() - start - 1 == 0U, "WR " << i << " made system calls");
            }
            if (armed) {
                BOOST_REQUIRE_MESSAGE(wait_cq_event(*channel, recv_timeout).has_value(),
                                      "no completion event for WR " << i);
            }
        }
    }
    void write(std::uint64_t first, std::uint64_t n) {
        write(first, n, [](std::uint64_t) { return false; });
    }

    /// Polls the completions of wr_ids [first, first + n) from cq_a, in order, and checks that
    /// their data landed.
    void expect_completions(std::uint64_t first, std::uint64_t n) {
        for (std::uint64_t i = first; i < first + n; ++i) {
            const ibv_wc wc = completion_within(*cq_a);
            BOOST_TEST(wc.wr_id == i);
            BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
            BOOST_TEST(wc.opcode == IBV_WC_RDMA_WRITE);
        }
        check_bytes(dst.part(at + 8 * first, 8 * n), src.part(8 * first, 8 * n),
                    "the WRITEs' data");
    }

    bool window_open = false; ///< the first WR the provider executes opens it
    comp_channel_ptr channel;
    cq_ptr cq_a;
    cq_ptr cq_b;
    qp_ptr qp_a;
    qp_ptr qp_b;
    buffer src;
    buffer dst;
};

/// Every third WR, from the second on, with the CQ armed.
bool every_third(std::uint64_t i) {
    return i % 3 == 1;
}

} // namespace

// ---- resize_cq --------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(resize_cq, *utf::precondition(devices_present{{dut()}}))

BOOST_FIXTURE_TEST_CASE(grows_and_shrinks_keeping_completions_in_order, maint_fixture) {
    BOOST_TEST(cq_a->cqe >= 16);
    write(0, 10, every_third);
    expect_completions(0, 2);
    BOOST_REQUIRE_EQUAL(ibv_resize_cq(cq_a.get(), 64), 0);
    BOOST_TEST(cq_a->cqe >= 64);
    expect_completions(2, 8);
    // the new size holds more than the old one
    write(10, 40, every_third);
    expect_completions(10, 40);
    check_no_completion(*cq_a);

    // down, with completions outstanding that fit
    write(50, 3, every_third);
    BOOST_REQUIRE_EQUAL(ibv_resize_cq(cq_a.get(), 4), 0);
    BOOST_TEST(cq_a->cqe >= 4);
    BOOST_TEST(cq_a->cqe < 64);
    expect_completions(50, 3);
    write(53, 4);
    expect_completions(53, 4);
    check_no_completion(*cq_a);
}

BOOST_FIXTURE_TEST_CASE(below_the_outstanding_completions_is_einval, maint_fixture) {
    write(0, 10, every_third);
    const int cqe = cq_a->cqe;
    BOOST_TEST(ibv_resize_cq(cq_a.get(), 8) == EINVAL);
    BOOST_TEST(ibv_resize_cq(cq_a.get(), 0) == EINVAL);
    BOOST_TEST(ibv_resize_cq(cq_a.get(), -1) == EINVAL);
    BOOST_TEST(ibv_resize_cq(cq_a.get(), 65537) == EINVAL);
    BOOST_TEST(cq_a->cqe == cqe);
    // unchanged: still every completion, and room for as many as before
    expect_completions(0, 10);
    write(10, 16, every_third);
    expect_completions(10, 16);
    BOOST_REQUIRE_EQUAL(ibv_resize_cq(cq_a.get(), 8), 0);
}

BOOST_FIXTURE_TEST_CASE(an_armed_cq_stays_armed, maint_fixture) {
    BOOST_REQUIRE_EQUAL(ibv_req_notify_cq(cq_a.get(), 0), 0);
    BOOST_REQUIRE_EQUAL(ibv_resize_cq(cq_a.get(), 256), 0);
    ibv_sge s = src.sge(0, 8);
    BOOST_REQUIRE_EQUAL(
        post(*qp_a, rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, dst.addr(at), dst.key()), 0), 0);
    BOOST_TEST(wait_cq_event(*channel, recv_timeout).value_or(nullptr) == cq_a.get(),
               "no completion event after the resize");
    expect_completions(0, 1);
    // answered: not armed any more
    write(1, 1);
    BOOST_TEST(!wait_cq_event(*channel, quiet_time).has_value());
    expect_completions(1, 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- rereg_mr ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rereg_mr, *utf::precondition(devices_present{{dut()}}))

/// An RDMA WRITE of src[0, 8) to `rkey` at `raddr` from qp_a, with `status`.
void write_with(maint_fixture& f, std::uint32_t rkey, std::uint64_t raddr, ibv_wc_status status) {
    ibv_sge s = f.src.sge(0, 8);
    (void)post_and_complete(*f.qp_a, *f.cq_a, rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, raddr, rkey),
                            status);
}

BOOST_FIXTURE_TEST_CASE(new_translation, maint_fixture) {
    std::vector<std::byte> other = random_bytes(2 * size);
    const std::uint32_t old_rkey = dst.key();
    write_with(*this, old_rkey, dst.addr(at), IBV_WC_SUCCESS); // (opens a window onto it)
    BOOST_REQUIRE_EQUAL(ibv_rereg_mr(dst.mr.get(), IBV_REREG_MR_CHANGE_TRANSLATION, nullptr,
                                     other.data(), other.size(), 0),
                        0);
    BOOST_TEST(dst.mr->addr == other.data());
    BOOST_TEST(dst.mr->length == other.size());
    BOOST_TEST(dst.mr->rkey == dst.mr->lkey);
    const std::vector<std::byte> old_before = dst.data;
    const std::vector<std::byte> other_before = other;

    // the new keys reach the new memory, beyond the old length too
    const std::uint64_t target = addr_of(other.data()) + size + 100;
    write_with(*this, dst.key(), target, IBV_WC_SUCCESS);
    check_bytes(std::span(other).subspan(size + 100, 8), src.part(0, 8), "the new memory");
    check_bytes(dst.bytes(), old_before, "the old memory");
    // the old address range is not the MR any more, whether the key changed (dibs) or not
    write_with(*this, old_rkey, dst.addr(at + 64), IBV_WC_REM_ACCESS_ERR);
    check_bytes(dst.bytes(), old_before, "the old memory after a write through the old key");
}

BOOST_FIXTURE_TEST_CASE(new_access_rights, maint_fixture) {
    write_with(*this, dst.key(), dst.addr(at), IBV_WC_SUCCESS);
    BOOST_REQUIRE_EQUAL(ibv_rereg_mr(dst.mr.get(), IBV_REREG_MR_CHANGE_ACCESS, nullptr, nullptr, 0,
                                     IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ),
                        0);
    BOOST_TEST(dst.mr->addr == dst.data.data());
    BOOST_TEST(dst.mr->length == size);
    // what the new rights allow, through the new key
    ibv_sge r = src.sge(100, 16);
    (void)post_and_complete(*qp_a, *cq_a,
                            rdma_wr(IBV_WR_RDMA_READ, {&r, 1}, dst.addr(at + 200), dst.key()),
                            IBV_WC_SUCCESS);
    check_bytes(src.part(100, 16), dst.part(at + 200, 16), "the READ through the new key");
    // and what they do not: the QP goes to the error state
    const std::vector<std::byte> before = dst.data;
    write_with(*this, dst.key(), dst.addr(at), IBV_WC_REM_ACCESS_ERR);
    check_bytes(dst.bytes(), before, "the MR after a refused write");
}

BOOST_FIXTURE_TEST_CASE(new_pd, maint_fixture) {
    const pd_ptr other = alloc_pd(*ctx);
    BOOST_REQUIRE_EQUAL(
        ibv_rereg_mr(src.mr.get(), IBV_REREG_MR_CHANGE_PD, other.get(), nullptr, 0, 0), 0);
    BOOST_TEST(src.mr->pd == other.get());
    // qp_a is in the old PD: the MR is not its local memory any more
    write_with(*this, dst.key(), dst.addr(), IBV_WC_LOC_PROT_ERR);
    // back, so that `other` can go first
    BOOST_TEST(ibv_rereg_mr(src.mr.get(), IBV_REREG_MR_CHANGE_PD, pd.get(), nullptr, 0, 0) == 0);
}

BOOST_FIXTURE_TEST_CASE(a_refused_rereg_changes_nothing, maint_fixture) {
    const ibv_mr dst_before = *dst.mr;
    const ibv_mr src_before = *src.mr;
    // remote write without local write (ib_core's rule), then a translation onto no memory
    BOOST_TEST(ibv_rereg_mr(dst.mr.get(), IBV_REREG_MR_CHANGE_ACCESS, nullptr, nullptr, 0,
                            IBV_ACCESS_REMOTE_WRITE) == IBV_REREG_MR_ERR_CMD);
    BOOST_TEST(ibv_rereg_mr(src.mr.get(), IBV_REREG_MR_CHANGE_TRANSLATION, nullptr,
                            // NOLINTNEXTLINE(performance-no-int-to-ptr): an unmapped address
                            reinterpret_cast<void*>(std::uintptr_t{4096}), 4096, 0) < 0);
    for (const auto& [mr, before] :
         {std::pair{dst.mr.get(), dst_before}, std::pair{src.mr.get(), src_before}}) {
        BOOST_TEST(mr->lkey == before.lkey);
        BOOST_TEST(mr->rkey == before.rkey);
        BOOST_TEST(mr->addr == before.addr);
        BOOST_TEST(mr->length == before.length);
    }
    // both still work, locally (src) and remotely (dst)
    fill_random(src.bytes());
    write_with(*this, dst.key(), dst.addr(at + 24), IBV_WC_SUCCESS);
    check_bytes(dst.part(at + 24, 8), src.part(0, 8), "the WRITE after refused rereg_mr calls");
}

BOOST_FIXTURE_TEST_CASE(a_peer_writing_through_the_old_key_is_refused, maint_fixture) {
    // the peer writes through its window onto dst, then dst moves to other memory: the old
    // memory must see no further write
    for (std::uint64_t i = 0; i < 32; ++i) {
        write_with(*this, dst.key(), dst.addr(at + 8 * i), IBV_WC_SUCCESS);
    }
    const std::uint32_t old_rkey = dst.key();
    std::vector<std::byte> other = random_bytes(size);
    BOOST_REQUIRE_EQUAL(ibv_rereg_mr(dst.mr.get(), IBV_REREG_MR_CHANGE_TRANSLATION, nullptr,
                                     other.data(), other.size(), 0),
                        0);
    std::memset(dst.data.data(), 0x5a, dst.data.size()); // the canary
    const std::vector<std::byte> canary = dst.data;
    // refused whether the key changed (no such MR) or not (not in its range)
    write_with(*this, old_rkey, dst.addr(at), IBV_WC_REM_ACCESS_ERR);
    check_bytes(dst.bytes(), canary, "the old memory after the rereg");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace dibs::conformance

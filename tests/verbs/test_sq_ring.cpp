// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance, suite sq_ring: the send queue ring (include/uapi/rdma/dibs-rdma-abi.h,
// "Send queue ring"; kernel/dibs_rdma_req.c; providers/dibs/sq.hpp), in both data-path modes -
// with bypass the provider writes what it leaves to the kernel into the ring and rings once per
// batch; with DIBS_RDMA_BYPASS=0 POST_SEND carries the work requests and the ring stays empty.
// The work requests here are RDMA WRITEs into an MR without remote read, which no window can
// serve (x86 has no write-only pages): the kernel executes them in both modes.
//
//   layout          the ring the provider mapped (/proc/self/maps) has the size the uapi header
//                   gives and holds what was posted, in order; cons follows prod
//   one_doorbell    100 WRITEs in one post_send make one system call per 64 (bypass) or one
//                   (POST_SEND); all complete, in order, with the data
//   refused_wr      a WR with too many SGEs in the middle of a list: EINVAL with bad_wr at it;
//                   the WRs before it are executed, those after it are not
//   inline          inline data is taken during the post: the buffer may change after it
//   broken_*        what the process writes into the ring itself is checked: an entry with too
//                   many SGEs or an unknown opcode, a prod too far ahead - the doorbell fails
//                   with EINVAL, bad names the entry, cons catches up with prod, and the QP
//                   goes on working
//   bad_mmap        the ring's offset from another context, with another length, or after the
//                   QP is gone; a mapping that outlives its QP is harmless
//
// The kernel log is checked by the VM runner.
#include "conformance.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rdma/dibs-rdma-abi.h>
#include <rdma/ib_user_verbs.h>
#include <unistd.h>

namespace dibs::conformance {
namespace {

constexpr std::size_t page = 4096;
constexpr std::uint32_t ring_wqes = 64; // what the kernel gives every QP

/// POST_SEND without work requests, as the uverbs write command: the send queue ring's doorbell,
/// rung by the test itself. 0 or the errno value.
int doorbell(ibv_qp& qp) {
    const ib_uverbs_post_send_resp resp{};
    const ib_uverbs_cmd_hdr hdr{
        .command = IB_USER_VERBS_CMD_POST_SEND,
        .in_words = (sizeof(ib_uverbs_cmd_hdr) + sizeof(ib_uverbs_post_send)) / 4,
        .out_words = sizeof(resp) / 4,
    };
    ib_uverbs_post_send cmd{};
    cmd.response = addr_of(&resp);
    cmd.qp_handle = qp.handle;
    cmd.wqe_size = sizeof(ib_uverbs_send_wr);
    std::array<std::byte, sizeof(hdr) + sizeof(cmd)> req{};
    std::memcpy(req.data(), &hdr, sizeof(hdr));
    std::memcpy(std::span{req}.subspan(sizeof(hdr)).data(), &cmd, sizeof(cmd));
    const ssize_t n = ::write(qp.context->cmd_fd, req.data(), req.size());
    return n == static_cast<ssize_t>(req.size()) ? 0 : errno;
}

/// A connected pair on dut(): a's send queue ring is under test; b's MR `dst` takes remote
/// writes only.
struct sq_fixture : lo0_device {
    sq_fixture()
        : cq(create_cq(*ctx, 512))
        , src(*pd, 65536, all_access)
        , dst(*pd, 65536, access::local_write | access::remote_write) {
        qp_caps caps;
        caps.max_send_wr = 256;
        caps.max_inline_data = 256;
        const auto before = uverbs_mappings();
        qa = create_rc_qp(*pd, *cq, *cq, caps);
        map = new_qp_rings(before, uverbs_mappings()).sq;
        qb = create_rc_qp(*pd, *cq, *cq, caps);
        connect_qp(*qa, endpoint_of(*qb));
        connect_qp(*qb, endpoint_of(*qa));
    }

    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast,performance-no-int-to-ptr): the
    // provider's mapping, laid out as the uapi header says
    [[nodiscard]] dibs_rdma_sq_ring& ring() const {
        return *reinterpret_cast<dibs_rdma_sq_ring*>(map.start);
    }
    [[nodiscard]] std::span<dibs_rdma_send_wqe> entries() const {
        return {reinterpret_cast<dibs_rdma_send_wqe*>(map.start + DIBS_RDMA_SQ_RING_ENTRIES),
                ring_wqes};
    }
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast,performance-no-int-to-ptr)

    static std::uint32_t load(std::uint32_t& field) {
        return std::atomic_ref(field).load(std::memory_order_acquire);
    }
    [[nodiscard]] std::uint32_t prod() const { return load(ring().prod); }
    [[nodiscard]] std::uint32_t cons() const { return load(ring().cons); }
    [[nodiscard]] std::uint32_t bad() const { return load(ring().bad); }

    /// A signaled WRITE of src[off, off + len) to dst[off, ...), through `sg`.
    // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): an offset, then a length
    [[nodiscard]] ibv_send_wr write(std::uint64_t wr_id, std::size_t off, std::size_t len,
                                    ibv_sge& sg) {
        sg = src.sge(off, len);
        ibv_send_wr wr = rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, dst.addr(off), dst.key());
        wr.wr_id = wr_id;
        return wr;
    }

    /// The WRs of `wrs` linked in order.
    static ibv_send_wr* chain(std::span<ibv_send_wr> wrs) {
        for (std::size_t i = 0; i + 1 < wrs.size(); ++i) {
            wrs[i].next = &wrs[i + 1];
        }
        return wrs.data();
    }

    /// One WRITE of 64 bytes at `off`, completed: a's provider learns that dst has no window.
    void warm_up(std::size_t off = 60000) {
        ibv_sge sg{};
        (void)post_and_complete(*qa, *cq, write(0x77, off, 64, sg), IBV_WC_SUCCESS);
    }

    /// An entry the test writes itself at the ring's cons, made visible with prod.
    [[nodiscard]] dibs_rdma_send_wqe& scribble_entry() const {
        dibs_rdma_send_wqe& e = entries()[cons() % ring_wqes];
        e = {};
        e.wr_id = 0xbad;
        e.opcode = IBV_WR_RDMA_WRITE;
        e.send_flags = IBV_SEND_SIGNALED;
        e.remote_addr = dst.addr();
        e.rkey = dst.key();
        return e;
    }

    /// The doorbell refuses the entry at cons: EINVAL, bad names it, cons catches up with prod,
    /// nothing completes, and the QP still executes what is posted next.
    void check_refused(std::string_view what) {
        const std::uint32_t at = cons();
        std::atomic_ref(ring().prod).store(at + 1, std::memory_order_release);
        BOOST_TEST(doorbell(*qa) == EINVAL, what);
        BOOST_TEST(bad() == at, what);
        BOOST_TEST(cons() == prod(), what);
        check_no_completion(*cq);
        BOOST_TEST(name(query_qp_state(*qa)) == name(IBV_QPS_RTS), what);
        warm_up();
    }

    cq_ptr cq;
    buffer src;
    buffer dst;
    qp_ptr qa;
    qp_ptr qb;
    uverbs_mapping map;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(sq_ring, sq_fixture, *utf::precondition(devices_present{{dut()}}))

BOOST_AUTO_TEST_CASE(layout) {
    const std::size_t want =
        (DIBS_RDMA_SQ_RING_ENTRIES + ring_wqes * sizeof(dibs_rdma_send_wqe) + page - 1) / page *
        page;
    BOOST_TEST(map.end - map.start == want);
    BOOST_TEST(want == 5 * page);
    BOOST_TEST(prod() == 0U);
    BOOST_TEST(cons() == 0U);

    warm_up();
    std::array<ibv_sge, 3> sg{};
    std::array<ibv_send_wr, 3> wrs{write(1, 0, 100, sg[0]), write(2, 100, 200, sg[1]),
                                   write(3, 300, 300, sg[2])};
    wrs[1].send_flags = 0; // unsignaled: completes silently
    ibv_send_wr* bad_wr = nullptr;
    BOOST_REQUIRE_EQUAL(ibv_post_send(qa.get(), chain(wrs), &bad_wr), 0);
    BOOST_TEST(completion_now(*cq).wr_id == 1U);
    BOOST_TEST(completion_now(*cq).wr_id == 3U);
    check_no_completion(*cq);
    check_bytes(dst.part(0, 600), src.part(0, 600), "written");

    const std::uint32_t used = bypass() ? 4 : 0; // the warm-up's and the three
    BOOST_TEST(prod() == used);
    BOOST_TEST(cons() == used, "the kernel consumed everything during the doorbell");
    if (bypass()) {
        for (std::size_t i = 0; i < wrs.size(); ++i) {
            BOOST_TEST_CONTEXT("entry " << i + 1) {
                const dibs_rdma_send_wqe& e = entries()[i + 1];
                BOOST_TEST(e.wr_id == wrs.at(i).wr_id);
                BOOST_TEST(e.opcode == static_cast<std::uint32_t>(IBV_WR_RDMA_WRITE));
                BOOST_TEST(e.send_flags == wrs.at(i).send_flags);
                BOOST_TEST(e.remote_addr == wrs.at(i).wr.rdma.remote_addr);
                BOOST_TEST(e.rkey == dst.key());
                BOOST_REQUIRE_EQUAL(e.num_sge, 1U);
                BOOST_TEST(e.sge[0].addr == sg.at(i).addr);
                BOOST_TEST(e.sge[0].length == sg.at(i).length);
                BOOST_TEST(e.sge[0].lkey == sg.at(i).lkey);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(one_doorbell) {
    constexpr std::size_t n = 100;
    constexpr std::size_t len = 64;
    warm_up();
    std::vector<ibv_sge> sg(n);
    std::vector<ibv_send_wr> wrs;
    for (std::size_t i = 0; i < n; ++i) {
        wrs.push_back(write(i, i * len, len, sg[i]));
    }
    const std::uint32_t before = prod();
    ibv_send_wr* bad_wr = nullptr;
    const syscall_counter calls;
    const std::uint64_t start = calls.count();
    BOOST_REQUIRE_EQUAL(ibv_post_send(qa.get(), chain(wrs), &bad_wr), 0);
    const std::uint64_t made = calls.count() - start - 1; // not the second count()
    BOOST_TEST(made == (bypass() ? 2U : 1U),
               (bypass() ? "one doorbell per 64 WRs" : "one POST_SEND for the list"));
    for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST_CONTEXT("WR " << i) {
            const ibv_wc wc = completion_now(*cq);
            BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
            BOOST_TEST(wc.wr_id == i, "in order");
        }
    }
    check_bytes(dst.part(0, n * len), src.part(0, n * len), "written");
    BOOST_TEST(prod() - before == (bypass() ? n : 0U));
    BOOST_TEST(cons() == prod());
}

BOOST_AUTO_TEST_CASE(refused_wr) {
    warm_up();
    std::array<ibv_sge, 3> sg{};
    std::array<ibv_send_wr, 3> wrs{write(1, 0, 100, sg[0]), write(2, 100, 100, sg[1]),
                                   write(3, 200, 100, sg[2])};
    // one SGE more than the QP takes: refused by the provider, or the kernel driver
    std::array<ibv_sge, DIBS_RDMA_MAX_SGE + 1> many{};
    many.fill(sg[1]);
    wrs[1].sg_list = many.data();
    wrs[1].num_sge = static_cast<int>(many.size());
    const std::vector<std::byte> untouched{dst.part(200, 100).begin(), dst.part(200, 100).end()};
    ibv_send_wr* bad_wr = nullptr;
    BOOST_TEST(ibv_post_send(qa.get(), chain(wrs), &bad_wr) == EINVAL);
    BOOST_TEST(bad_wr == &wrs[1]);
    BOOST_TEST(completion_now(*cq).wr_id == 1U, "the WR before the bad one is executed");
    check_no_completion(*cq);
    check_bytes(dst.part(0, 100), src.part(0, 100), "the first WRITE");
    check_bytes(dst.part(200, 100), untouched, "after the bad WR");
    BOOST_TEST(cons() == prod());
    BOOST_TEST(name(query_qp_state(*qa)) == name(IBV_QPS_RTS));
    warm_up();
}

BOOST_AUTO_TEST_CASE(inline_data) {
    warm_up();
    std::array<std::byte, 200> data{};
    fill_random(data);
    const std::array<std::byte, 200> want = data;
    ibv_sge sg{.addr = addr_of(data.data()), .length = data.size(), .lkey = 0};
    ibv_send_wr wr = rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, dst.addr(), dst.key(),
                             IBV_SEND_SIGNALED | IBV_SEND_INLINE);
    wr.wr_id = 9;
    ibv_send_wr* bad_wr = nullptr;
    BOOST_REQUIRE_EQUAL(ibv_post_send(qa.get(), &wr, &bad_wr), 0);
    std::fill(data.begin(), data.end(), std::byte{0xee}); // the post has returned
    const ibv_wc wc = completion_now(*cq);
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(wc.wr_id == 9U);
    check_bytes(dst.part(0, want.size()), want, "inline data");
}

BOOST_AUTO_TEST_CASE(broken_entry) {
    warm_up();
    scribble_entry().num_sge = 1000;
    check_refused("an entry with 1000 SGEs");
    scribble_entry().opcode = 0xff;
    check_refused("an entry with opcode 0xff");
    scribble_entry().num_sge = DIBS_RDMA_MAX_SGE + 1;
    check_refused("an entry with one SGE too many");
}

BOOST_AUTO_TEST_CASE(broken_prod) {
    warm_up();
    const std::uint32_t at = cons();
    std::atomic_ref(ring().prod).store(at + ring_wqes + 1, std::memory_order_release);
    BOOST_TEST(doorbell(*qa) == EINVAL);
    BOOST_TEST(bad() == at);
    BOOST_TEST(cons() == prod());
    check_no_completion(*cq);
    // the provider's next batch starts where the kernel is
    warm_up();
    BOOST_TEST(cons() == prod());
}

BOOST_AUTO_TEST_CASE(bad_mmap) {
    check_queue_ring_mmap(*ctx, map, qa);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace dibs::conformance

// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance: the data path on one device (dut(): dibs_lo0 unless VERBS_CONFORMANCE_DEVICE
// names another) - suites rdma_write, rdma_read, atomic and send. post_send executes synchronously:
// when it returns, the data is at the target and the completion is in the CQ, so the requester side
// is checked without waiting. Receive completions come from a kernel work item and are polled with
// a timeout. Data is a random pattern, checked byte for byte over the whole target (what must not
// change too).
#include "conformance.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <future>
#include <numeric>
#include <thread>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

namespace dibs::conformance {
namespace {

namespace bdata = boost::unit_test::data;

/// Payload size of one receive ring slot: 4096 minus struct dibs_rdma_slot_hdr
/// (include/uapi/rdma/dibs-rdma-wire.h).
constexpr std::size_t slot_data = 4096 - 80;

/// A connected pair on dut() with two large registered buffers: `local` on the requester
/// side, `remote` the target (both allow everything).
struct data_fixture : lo0_pair {
    static constexpr std::size_t size = (std::size_t{1} << 20) + std::size_t{3} * 4096;

    data_fixture() : local(*pd, size, all_access), remote(*pd, size, all_access) {}

    /// A copy of the target, to build the expected result in.
    [[nodiscard]] std::vector<std::byte> remote_copy() const { return remote.data; }
    [[nodiscard]] std::vector<std::byte> local_copy() const { return local.data; }

    ibv_qp& qa() { return *pair.a.qp; }
    ibv_qp& qb() { return *pair.b.qp; }
    ibv_cq& ca() { return *pair.a.cq; }
    ibv_cq& cb() { return *pair.b.cq; }

    buffer local;
    buffer remote;
};

/// Copies `len` bytes from `from` at `from_off` into `to` at `to_off` (building expectations).
void put(std::vector<std::byte>& to, std::size_t to_off, std::span<const std::byte> from) {
    std::copy(from.begin(), from.end(), to.begin() + static_cast<std::ptrdiff_t>(to_off));
}

std::uint64_t load64(std::span<const std::byte> at) {
    std::uint64_t v = 0;
    std::memcpy(&v, at.data(), sizeof(v));
    return v;
}

void store64(std::span<std::byte> at, std::uint64_t v) {
    std::memcpy(at.data(), &v, sizeof(v));
}

/// `n` random lengths in [1, max].
std::vector<std::size_t> random_lengths(std::size_t n, std::size_t max) {
    std::uniform_int_distribution<std::size_t> dist(1, max);
    std::vector<std::size_t> v(n);
    for (std::size_t& len : v) {
        len = dist(rng());
    }
    return v;
}

/// Places pieces of the given lengths at random, non-overlapping offsets in [0, space), in an
/// order different from the address order; returns the offsets.
std::vector<std::size_t> scatter(const std::vector<std::size_t>& lengths, std::size_t space) {
    const std::size_t total = std::accumulate(lengths.begin(), lengths.end(), std::size_t{0});
    BOOST_REQUIRE(total <= space);
    std::vector<std::size_t> order(lengths.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::shuffle(order.begin(), order.end(), rng());
    const std::size_t slack = (space - total) / (lengths.size() + 1);
    std::uniform_int_distribution<std::size_t> gap(0, slack);
    std::vector<std::size_t> offsets(lengths.size());
    std::size_t pos = 0;
    for (const std::size_t i : order) {
        pos += gap(rng());
        offsets[i] = pos;
        pos += lengths[i];
    }
    return offsets;
}

const std::array<std::size_t, 7> sizes{1, 7, 4095, 4096, 4097, 65537, std::size_t{1} << 20};
const std::array<std::size_t, 3> offsets{0, 3, 4093};

// ---- rdma_write -------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(rdma_write, data_fixture, *utf::precondition(devices_present{{dut()}}))

BOOST_DATA_TEST_CASE(sizes_and_offsets, bdata::make(sizes) * bdata::make(offsets), len, off) {
    const std::size_t loff = 4096 - off - 1;
    std::vector<std::byte> want = remote_copy();
    put(want, off, local.part(loff, len));
    ibv_sge sg = local.sge(loff, len);
    const ibv_wc wc = post_and_complete(
        qa(), ca(), rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, remote.addr(off), remote.key()),
        IBV_WC_SUCCESS);
    BOOST_TEST(wc.opcode == IBV_WC_RDMA_WRITE);
    check_bytes(remote.data, want, "target");
    BOOST_TEST(drain(ca()).empty());
    BOOST_TEST(drain(cb()).empty(), "a plain RDMA WRITE consumed a receive");
}

BOOST_DATA_TEST_CASE(gathers_sges, bdata::make({2, 3, 5, 16}), nsge) {
    // half of the pieces from `local`, the others from a second MR
    buffer other(*pd, 65536, access::none);
    const std::vector<std::size_t> lengths = random_lengths(static_cast<std::size_t>(nsge), 5000);
    const std::vector<std::size_t> at = scatter(lengths, 65536);
    std::vector<ibv_sge> sges;
    std::vector<std::byte> message;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        buffer& from = i % 2 == 0 ? local : other;
        sges.push_back(from.sge(at[i], lengths[i]));
        const std::span<const std::byte> piece = from.part(at[i], lengths[i]);
        message.insert(message.end(), piece.begin(), piece.end());
    }
    std::vector<std::byte> want = remote_copy();
    put(want, 5, message);
    (void)post_and_complete(
        qa(), ca(), rdma_wr(IBV_WR_RDMA_WRITE, sges, remote.addr(5), remote.key()), IBV_WC_SUCCESS);
    check_bytes(remote.data, want, "target");
}

BOOST_AUTO_TEST_CASE(zero_length_sges_are_skipped) {
    std::array<ibv_sge, 3> sges{local.sge(10, 100), local.sge(0, 0), local.sge(500, 33)};
    std::vector<std::byte> want = remote_copy();
    put(want, 1, local.part(10, 100));
    put(want, 101, local.part(500, 33));
    (void)post_and_complete(
        qa(), ca(), rdma_wr(IBV_WR_RDMA_WRITE, sges, remote.addr(1), remote.key()), IBV_WC_SUCCESS);
    check_bytes(remote.data, want, "target");
}

BOOST_DATA_TEST_CASE(inline_data_needs_no_mr, bdata::make({1, 7, 100, 255, 256}), len) {
    // unregistered memory, in two SGEs with a bogus lkey
    std::vector<std::byte> mem = random_bytes(static_cast<std::size_t>(len));
    const std::size_t half = mem.size() / 2;
    std::array<ibv_sge, 2> sges{ibv_sge{addr_of(mem.data()), static_cast<std::uint32_t>(half), 0},
                                ibv_sge{addr_of(std::span(mem).subspan(half).data()),
                                        static_cast<std::uint32_t>(mem.size() - half), 0xbad}};
    std::vector<std::byte> want = remote_copy();
    put(want, 4093, mem);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE, sges, remote.addr(4093), remote.key(),
                                    IBV_SEND_SIGNALED | IBV_SEND_INLINE),
                            IBV_WC_SUCCESS);
    check_bytes(remote.data, want, "target");
}

BOOST_AUTO_TEST_CASE(unsignaled_writes_complete_silently) {
    std::vector<std::byte> want = remote_copy();
    for (std::size_t i = 0; i < 5; ++i) {
        ibv_sge sg = local.sge(i * 1000, 999);
        BOOST_REQUIRE_EQUAL(
            post(qa(), rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, remote.addr(i * 1000), remote.key(), 0),
                 i),
            0);
        put(want, i * 1000, local.part(i * 1000, 999));
        // the data is there when post_send returns
        check_bytes(remote.part(0, 5000), std::span(want).subspan(0, 5000), "target");
    }
    BOOST_TEST(drain(ca()).empty());
    ibv_sge sg = local.sge(0, 1);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, remote.addr(), remote.key()),
                            IBV_WC_SUCCESS, 99);
    BOOST_TEST(drain(ca()).empty());
}

BOOST_AUTO_TEST_CASE(sq_sig_all_signals_every_wr) {
    rc_pair_options opts;
    opts.sig_all = true;
    rc_pair all = rc_pair::create(*pd, *pd, opts);
    ibv_sge sg = local.sge(0, 64);
    for (std::uint64_t i = 0; i < 3; ++i) {
        (void)post_and_complete(
            *all.a.qp, *all.a.cq,
            rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, remote.addr(64 * i), remote.key(), 0),
            IBV_WC_SUCCESS, i);
    }
}

BOOST_AUTO_TEST_CASE(chained_wrs_complete_in_order) {
    std::array<ibv_sge, 3> sg{local.sge(0, 10), local.sge(100, 4097), local.sge(9000, 1)};
    std::array<ibv_send_wr, 3> wrs{};
    std::vector<std::byte> want = remote_copy();
    for (std::size_t i = 0; i < wrs.size(); ++i) {
        wrs.at(i) =
            rdma_wr(IBV_WR_RDMA_WRITE, {&sg.at(i), 1}, remote.addr(20000 * i), remote.key());
        wrs.at(i).wr_id = 10 + i;
        wrs.at(i).next = i + 1 < wrs.size() ? &wrs.at(i + 1) : nullptr;
        put(want, 20000 * i, local.part(sg.at(i).addr - local.addr(), sg.at(i).length));
    }
    ibv_send_wr* bad = nullptr;
    BOOST_REQUIRE_EQUAL(ibv_post_send(&qa(), wrs.data(), &bad), 0);
    const std::vector<ibv_wc> wcs = drain(ca());
    BOOST_REQUIRE_EQUAL(wcs.size(), 3U);
    for (std::size_t i = 0; i < wcs.size(); ++i) {
        BOOST_TEST(wcs[i].wr_id == 10 + i);
        BOOST_TEST(name(wcs[i].status) == name(IBV_WC_SUCCESS));
    }
    check_bytes(remote.data, want, "target");
}

BOOST_DATA_TEST_CASE(with_imm_consumes_a_receive, bdata::make({0, 1, 4097, 65537}), len) {
    const auto n = static_cast<std::size_t>(len);
    // a receive without SGEs, and one with a buffer that must stay untouched
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {}, 41), 0);
    std::vector<std::byte> want = remote_copy();
    put(want, 7, local.part(3, n));
    ibv_sge sg = local.sge(3, n);
    const ibv_wc swc =
        post_and_complete(qa(), ca(),
                          rdma_wr(IBV_WR_RDMA_WRITE_WITH_IMM, {&sg, n ? 1U : 0U}, remote.addr(7),
                                  remote.key(), IBV_SEND_SIGNALED, 0x12345678),
                          IBV_WC_SUCCESS);
    BOOST_TEST(swc.opcode == IBV_WC_RDMA_WRITE);
    check_bytes(remote.data, want, "target");
    const ibv_wc rwc = completion_within(cb());
    BOOST_TEST(name(rwc.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(rwc.opcode == IBV_WC_RECV_RDMA_WITH_IMM);
    BOOST_TEST(rwc.byte_len == n);
    BOOST_TEST((rwc.wc_flags & IBV_WC_WITH_IMM) != 0);
    BOOST_TEST(imm_of(rwc) == 0x12345678U);
    BOOST_TEST(rwc.wr_id == 41U);
    BOOST_TEST(rwc.qp_num == qb().qp_num);
    BOOST_TEST(rwc.src_qp == qa().qp_num);
    check_bytes(remote.data, want, "target after the receive completion");
}

BOOST_AUTO_TEST_CASE(zero_length_write) {
    const std::vector<std::byte> want = remote_copy();
    (void)post_and_complete(
        qa(), ca(), rdma_wr(IBV_WR_RDMA_WRITE, {}, remote.addr(100), remote.key()), IBV_WC_SUCCESS);
    check_bytes(remote.data, want, "target");
}

BOOST_AUTO_TEST_CASE(mr_addressed_by_iova) {
    std::vector<std::byte> mem = random_bytes(std::size_t{3} * 4096);
    // an iova far from the buffer, with the same offset in the page (uverbs requires that)
    const std::uint64_t iova = (std::uint64_t{1} << 44) | (addr_of(mem.data()) & 0xfffU);
    const mr_ptr mr = reg_mr_iova(*pd, mem, iova, all_access);
    BOOST_TEST(mr->lkey == mr->rkey);
    std::vector<std::byte> want = mem;
    put(want, 123, local.part(0, 5000));
    ibv_sge sg = local.sge(0, 5000);
    (void)post_and_complete(qa(), ca(), rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, iova + 123, mr->rkey),
                            IBV_WC_SUCCESS);
    check_bytes(mem, want, "iova-addressed target");
    // the virtual address is no address of this MR
    ibv_sge sg2 = local.sge(0, 8);
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_WRITE, {&sg2, 1}, addr_of(mem.data()), mr->rkey),
                            IBV_WC_REM_ACCESS_ERR);
    check_bytes(mem, want, "iova-addressed target after the bad write");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- rdma_read --------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(rdma_read, data_fixture, *utf::precondition(devices_present{{dut()}}))

BOOST_DATA_TEST_CASE(sizes_and_offsets, bdata::make(sizes) * bdata::make(offsets), len, off) {
    const std::size_t loff = off + 5;
    const std::vector<std::byte> remote_before = remote_copy();
    std::vector<std::byte> want = local_copy();
    put(want, loff, remote.part(off, len));
    ibv_sge sg = local.sge(loff, len);
    const ibv_wc wc = post_and_complete(
        qa(), ca(), rdma_wr(IBV_WR_RDMA_READ, {&sg, 1}, remote.addr(off), remote.key()),
        IBV_WC_SUCCESS);
    BOOST_TEST(wc.opcode == IBV_WC_RDMA_READ);
    check_bytes(local.data, want, "local buffer");
    check_bytes(remote.data, remote_before, "read target");
}

BOOST_DATA_TEST_CASE(scatters_into_sges, bdata::make({2, 5, 16}), nsge) {
    const std::vector<std::size_t> lengths = random_lengths(static_cast<std::size_t>(nsge), 7000);
    const std::vector<std::size_t> at = scatter(lengths, data_fixture::size);
    std::vector<ibv_sge> sges;
    std::vector<std::byte> want = local_copy();
    std::size_t from = 4095;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        sges.push_back(local.sge(at[i], lengths[i]));
        put(want, at[i], remote.part(from, lengths[i]));
        from += lengths[i];
    }
    (void)post_and_complete(qa(), ca(),
                            rdma_wr(IBV_WR_RDMA_READ, sges, remote.addr(4095), remote.key()),
                            IBV_WC_SUCCESS);
    check_bytes(local.data, want, "local buffer");
}

BOOST_AUTO_TEST_CASE(zero_length_read) {
    const std::vector<std::byte> want = local_copy();
    (void)post_and_complete(qa(), ca(), rdma_wr(IBV_WR_RDMA_READ, {}, remote.addr(), remote.key()),
                            IBV_WC_SUCCESS);
    check_bytes(local.data, want, "local buffer");
}

BOOST_AUTO_TEST_CASE(read_only_target_mr) {
    buffer ro(*pd, 10000, access::remote_read);
    std::vector<std::byte> want = local_copy();
    put(want, 1, ro.part(17, 9000));
    ibv_sge sg = local.sge(1, 9000);
    (void)post_and_complete(qa(), ca(), rdma_wr(IBV_WR_RDMA_READ, {&sg, 1}, ro.addr(17), ro.key()),
                            IBV_WC_SUCCESS);
    check_bytes(local.data, want, "local buffer");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- atomic -----------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(atomic, data_fixture, *utf::precondition(devices_present{{dut()}}))

const std::array<std::size_t, 5> atomic_offsets{0, 8, 4088, 4096, 65536 + 8};

BOOST_DATA_TEST_CASE(compare_and_swap, bdata::make(atomic_offsets), off) {
    const std::uint64_t old_value = rng()();
    const std::uint64_t new_value = rng()();
    store64(remote.part(off, 8), old_value);
    std::vector<std::byte> want = remote_copy();
    store64(std::span(want).subspan(off, 8), new_value);
    ibv_sge result = local.sge(24, 8);
    // a hit: swapped, the old value returned
    ibv_wc wc = post_and_complete(qa(), ca(),
                                  atomic_wr(IBV_WR_ATOMIC_CMP_AND_SWP, result, remote.addr(off),
                                            remote.key(), old_value, new_value),
                                  IBV_WC_SUCCESS);
    BOOST_TEST(wc.opcode == IBV_WC_COMP_SWAP);
    BOOST_TEST(load64(local.part(24, 8)) == old_value);
    check_bytes(remote.data, want, "target after a hit");
    // a miss: unchanged, the current value returned
    wc = post_and_complete(qa(), ca(),
                           atomic_wr(IBV_WR_ATOMIC_CMP_AND_SWP, result, remote.addr(off),
                                     remote.key(), old_value, ~new_value),
                           IBV_WC_SUCCESS);
    BOOST_TEST(load64(local.part(24, 8)) == new_value);
    check_bytes(remote.data, want, "target after a miss");
}

BOOST_DATA_TEST_CASE(fetch_and_add, bdata::make(atomic_offsets), off) {
    const std::uint64_t start = ~std::uint64_t{0} - 2; // wraps around
    store64(remote.part(off, 8), start);
    std::vector<std::byte> want = remote_copy();
    ibv_sge result = local.sge(4096 + 8, 8);
    std::uint64_t value = start;
    for (const std::uint64_t add : {std::uint64_t{1}, std::uint64_t{5}, rng()()}) {
        const ibv_wc wc = post_and_complete(
            qa(), ca(),
            atomic_wr(IBV_WR_ATOMIC_FETCH_AND_ADD, result, remote.addr(off), remote.key(), add, 0),
            IBV_WC_SUCCESS);
        BOOST_TEST(wc.opcode == IBV_WC_FETCH_ADD);
        BOOST_TEST(load64(local.part(4096 + 8, 8)) == value);
        value += add;
    }
    store64(std::span(want).subspan(off, 8), value);
    check_bytes(remote.data, want, "target");
}

BOOST_AUTO_TEST_CASE(atomic_only_target_mr) {
    buffer target(*pd, 64, access::local_write | access::remote_atomic);
    store64(target.part(16, 8), 1000);
    ibv_sge result = local.sge(0, 8);
    (void)post_and_complete(
        qa(), ca(),
        atomic_wr(IBV_WR_ATOMIC_FETCH_AND_ADD, result, target.addr(16), target.key(), 24, 0),
        IBV_WC_SUCCESS);
    BOOST_TEST(load64(target.part(16, 8)) == 1024U);
    BOOST_TEST(load64(local.part(0, 8)) == 1000U);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- send -------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(send, data_fixture, *utf::precondition(devices_present{{dut()}}))

/// Checks a receive completion of b for a message of `len` bytes from a.
void check_recv(const ibv_wc& wc, data_fixture& f, std::size_t len, std::uint64_t wr_id) {
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(wc.opcode == IBV_WC_RECV);
    BOOST_TEST(wc.byte_len == len);
    BOOST_TEST(wc.wr_id == wr_id);
    BOOST_TEST(wc.qp_num == f.qb().qp_num);
    BOOST_TEST(wc.src_qp == f.qa().qp_num);
    BOOST_TEST(wc.slid == query_port(*f.ctx).lid);
}

const std::array<std::size_t, 11> send_sizes{1,    7,    slot_data,     slot_data + 1, 4095,  4096,
                                             4097, 8128, 2 * slot_data, 65537,         300000};

BOOST_DATA_TEST_CASE(sizes_into_exact_receives, bdata::make(send_sizes), len) {
    const std::size_t roff = 4093;
    ibv_sge rsg = remote.sge(roff, len);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 5), 0);
    std::vector<std::byte> want = remote_copy();
    put(want, roff, local.part(11, len));
    ibv_sge sg = local.sge(11, len);
    const ibv_wc swc =
        post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    BOOST_TEST(swc.opcode == IBV_WC_SEND);
    const ibv_wc rwc = completion_within(cb());
    check_recv(rwc, *this, len, 5);
    BOOST_TEST((rwc.wc_flags & IBV_WC_WITH_IMM) == 0);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_AUTO_TEST_CASE(one_mib_across_sges) {
    constexpr std::size_t mib = std::size_t{1} << 20;
    const std::vector<std::size_t> send_lengths{300001, 400000, mib - 700001};
    const std::vector<std::size_t> recv_lengths{1, 4095, 500000, 200000, mib - 704096};
    const std::vector<std::size_t> send_at = scatter(send_lengths, data_fixture::size);
    const std::vector<std::size_t> recv_at = scatter(recv_lengths, data_fixture::size);
    std::vector<ibv_sge> ssg;
    std::vector<std::byte> message;
    for (std::size_t i = 0; i < send_lengths.size(); ++i) {
        ssg.push_back(local.sge(send_at[i], send_lengths[i]));
        const std::span<const std::byte> piece = local.part(send_at[i], send_lengths[i]);
        message.insert(message.end(), piece.begin(), piece.end());
    }
    std::vector<ibv_sge> rsg;
    std::vector<std::byte> want = remote_copy();
    std::size_t pos = 0;
    for (std::size_t i = 0; i < recv_lengths.size(); ++i) {
        rsg.push_back(remote.sge(recv_at[i], recv_lengths[i]));
        put(want, recv_at[i], std::span(message).subspan(pos, recv_lengths[i]));
        pos += recv_lengths[i];
    }
    BOOST_REQUIRE_EQUAL(pos, mib);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), rsg, 77), 0);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, ssg), IBV_WC_SUCCESS);
    check_recv(completion_within(cb()), *this, mib, 77);
    check_bytes(remote.data, want, "receive buffers");
}

BOOST_AUTO_TEST_CASE(receive_larger_than_message) {
    ibv_sge rsg = remote.sge(100, 10000);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 1), 0);
    std::vector<std::byte> want = remote_copy();
    put(want, 100, local.part(0, 5000));
    ibv_sge sg = local.sge(0, 5000);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    check_recv(completion_within(cb()), *this, 5000, 1);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_DATA_TEST_CASE(with_imm, bdata::make({0, 1, 1000, 9000}), len) {
    const auto n = static_cast<std::size_t>(len);
    ibv_sge rsg = remote.sge(0, 9000);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 3), 0);
    std::vector<std::byte> want = remote_copy();
    put(want, 0, local.part(1, n));
    ibv_sge sg = local.sge(1, n);
    const ibv_wc swc = post_and_complete(
        qa(), ca(),
        send_wr(IBV_WR_SEND_WITH_IMM, {&sg, n ? 1U : 0U}, IBV_SEND_SIGNALED, 0xfeedf00d),
        IBV_WC_SUCCESS);
    BOOST_TEST(swc.opcode == IBV_WC_SEND);
    const ibv_wc rwc = completion_within(cb());
    check_recv(rwc, *this, n, 3);
    BOOST_TEST((rwc.wc_flags & IBV_WC_WITH_IMM) != 0);
    BOOST_TEST(imm_of(rwc) == 0xfeedf00dU);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_DATA_TEST_CASE(inline_send, bdata::make({1, 100, 256}), len) {
    std::vector<std::byte> mem = random_bytes(static_cast<std::size_t>(len));
    ibv_sge sg{addr_of(mem.data()), static_cast<std::uint32_t>(mem.size()), 0};
    ibv_sge rsg = remote.sge(3, 300);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 4), 0);
    std::vector<std::byte> want = remote_copy();
    put(want, 3, mem);
    (void)post_and_complete(qa(), ca(),
                            send_wr(IBV_WR_SEND, {&sg, 1}, IBV_SEND_SIGNALED | IBV_SEND_INLINE),
                            IBV_WC_SUCCESS);
    // the caller may reuse its memory at once
    fill_random(mem);
    check_recv(completion_within(cb()), *this, static_cast<std::size_t>(len), 4);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_AUTO_TEST_CASE(zero_length_send) {
    ibv_sge rsg = remote.sge(0, 16);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 9), 0);
    const std::vector<std::byte> want = remote_copy();
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {}), IBV_WC_SUCCESS);
    check_recv(completion_within(cb()), *this, 0, 9);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_AUTO_TEST_CASE(messages_arrive_in_order) {
    constexpr std::size_t n = 20;
    const std::vector<std::size_t> lengths = random_lengths(n, 20000);
    std::vector<std::byte> want = remote_copy();
    std::size_t roff = 0;
    std::size_t soff = 0;
    for (std::size_t i = 0; i < n; ++i) {
        ibv_sge rsg = remote.sge(roff, lengths[i]);
        BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, i), 0);
        put(want, roff, local.part(soff, lengths[i]));
        roff += lengths[i];
        soff += lengths[i] / 2 + 1;
    }
    soff = 0;
    for (std::size_t i = 0; i < n; ++i) {
        ibv_sge sg = local.sge(soff, lengths[i]);
        BOOST_REQUIRE_EQUAL(post(qa(), send_wr(IBV_WR_SEND, {&sg, 1}, 0)), 0);
        soff += lengths[i] / 2 + 1;
    }
    BOOST_TEST(drain(ca()).empty());
    for (std::size_t i = 0; i < n; ++i) {
        check_recv(completion_within(cb()), *this, lengths[i], i);
    }
    check_bytes(remote.data, want, "receive buffers");
}

BOOST_AUTO_TEST_CASE(message_waits_for_a_receive) {
    ibv_sge sg = local.sge(0, 10000);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    check_no_completion(cb());
    std::vector<std::byte> want = remote_copy();
    put(want, 1, local.part(0, 10000));
    ibv_sge rsg = remote.sge(1, 10000);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 8), 0);
    check_recv(completion_within(cb()), *this, 10000, 8);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_AUTO_TEST_CASE(large_message_waits_for_a_late_receive) {
    // 1 MiB needs 258 ring slots: the sender waits for room while the receiver drains the ring
    // into a receive posted 300 ms later by another thread
    constexpr std::size_t mib = std::size_t{1} << 20;
    std::vector<std::byte> want = remote_copy();
    put(want, 4096, local.part(1, mib));
    ibv_sge rsg = remote.sge(4096, mib);
    auto receiver = std::async(std::launch::async, [&] {
        std::this_thread::sleep_for(300ms);
        return post_recv(qb(), {&rsg, 1}, 6);
    });
    ibv_sge sg = local.sge(1, mib);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    BOOST_TEST(receiver.get() == 0);
    check_recv(completion_within(cb()), *this, mib, 6);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_AUTO_TEST_CASE(receiver_in_rtr_receives) {
    qp_to_reset(qb());
    qp_to_init(qb(), remote_all);
    qp_to_rtr(qb(), endpoint_of(qa()), addressing::lid);
    ibv_sge rsg = remote.sge(0, 5000);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rsg, 1}, 1), 0);
    std::vector<std::byte> want = remote_copy();
    put(want, 0, local.part(0, 5000));
    ibv_sge sg = local.sge(0, 5000);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS);
    check_recv(completion_within(cb()), *this, 5000, 1);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_AUTO_TEST_CASE(qp_connected_to_itself) {
    qp_to_reset(qa());
    connect_qp(qa(), endpoint_of(qa()));
    ibv_sge rsg = remote.sge(0, 9000);
    BOOST_REQUIRE_EQUAL(post_recv(qa(), {&rsg, 1}, 1), 0);
    std::vector<std::byte> want = remote_copy();
    put(want, 0, local.part(0, 9000));
    ibv_sge sg = local.sge(0, 9000);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sg, 1}), IBV_WC_SUCCESS, 2);
    const ibv_wc wc = completion_within(ca());
    BOOST_TEST(name(wc.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(wc.wr_id == 1U);
    BOOST_TEST(wc.byte_len == 9000U);
    BOOST_TEST(wc.src_qp == qa().qp_num);
    check_bytes(remote.data, want, "receive buffer");
}

BOOST_AUTO_TEST_CASE(both_directions) {
    // a -> b into remote[0, 50000), then b -> a into local[200000, 250000)
    ibv_sge rb = remote.sge(0, 50000);
    ibv_sge ra = local.sge(200000, 50000);
    BOOST_REQUIRE_EQUAL(post_recv(qb(), {&rb, 1}, 1), 0);
    BOOST_REQUIRE_EQUAL(post_recv(qa(), {&ra, 1}, 2), 0);
    std::vector<std::byte> want_b = remote_copy();
    std::vector<std::byte> want_a = local_copy();
    put(want_b, 0, local.part(0, 50000));
    put(want_a, 200000, remote.part(100000, 50000));
    ibv_sge sa = local.sge(0, 50000);
    ibv_sge sb = remote.sge(100000, 50000);
    (void)post_and_complete(qa(), ca(), send_wr(IBV_WR_SEND, {&sa, 1}), IBV_WC_SUCCESS);
    const ibv_wc wb = completion_within(cb());
    BOOST_TEST(wb.byte_len == 50000U);
    BOOST_TEST(wb.wr_id == 1U);
    (void)post_and_complete(qb(), cb(), send_wr(IBV_WR_SEND, {&sb, 1}), IBV_WC_SUCCESS);
    const ibv_wc wa = completion_within(ca());
    BOOST_TEST(wa.byte_len == 50000U);
    BOOST_TEST(wa.wr_id == 2U);
    BOOST_TEST(wa.src_qp == qb().qp_num);
    check_bytes(remote.data, want_b, "b's receive buffer");
    check_bytes(local.data, want_a, "a's receive buffer");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace dibs::conformance

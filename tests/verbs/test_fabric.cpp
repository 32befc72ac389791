// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance: several devices and processes - suites cross_device (dibs_lo1 and
// dibs_lo2 share fabric 0x10; dibs_lo0 reaches only itself), lifecycle (a process that dies
// releases its DMBs) and removal (a device removed while a process has it open; the device is
// created again afterwards, so the order of the suites does not matter).
#include "conformance.hpp"

#include <array>
#include <csignal>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <sys/wait.h>
#include <unistd.h>

namespace dibs::conformance {
namespace {

namespace bdata = boost::unit_test::data;

const std::string loopback_dir = "/sys/kernel/dibs_loopback/";

/// Write, read, send and fetch-add from a to b, checked byte for byte.
void exercise(rc_pair& pair, ibv_pd& pd_a, ibv_pd& pd_b) {
    buffer src(pd_a, 200000, all_access);
    buffer dst(pd_b, 200000, all_access);
    ibv_qp& qa = *pair.a.qp;
    ibv_cq& ca = *pair.a.cq;

    ibv_sge sg = src.sge(1, 65537);
    const ibv_wc first = post_and_complete(
        qa, ca, rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, dst.addr(3), dst.key()), IBV_WC_SUCCESS);
    BOOST_TEST_REQUIRE(name(first.status) == name(IBV_WC_SUCCESS), "a -> b does not work");
    check_bytes(dst.part(3, 65537), src.part(1, 65537), "written");

    ibv_sge rd = src.sge(100000, 4097);
    (void)post_and_complete(
        qa, ca, rdma_wr(IBV_WR_RDMA_READ, {&rd, 1}, dst.addr(150000), dst.key()), IBV_WC_SUCCESS);
    check_bytes(src.part(100000, 4097), dst.part(150000, 4097), "read");

    ibv_sge rsg = dst.sge(70000, 10000);
    BOOST_REQUIRE_EQUAL(post_recv(*pair.b.qp, {&rsg, 1}, 1), 0);
    ibv_sge ssg = src.sge(7, 10000);
    (void)post_and_complete(qa, ca, send_wr(IBV_WR_SEND_WITH_IMM, {&ssg, 1}, IBV_SEND_SIGNALED, 99),
                            IBV_WC_SUCCESS);
    const ibv_wc r = completion_within(*pair.b.cq);
    BOOST_TEST(name(r.status) == name(IBV_WC_SUCCESS));
    BOOST_TEST(r.byte_len == 10000U);
    BOOST_TEST(imm_of(r) == 99U);
    BOOST_TEST(r.src_qp == qa.qp_num);
    BOOST_TEST(r.slid == query_port(*qa.context).lid);
    check_bytes(dst.part(70000, 10000), src.part(7, 10000), "sent");

    std::uint64_t v = 41;
    std::memcpy(dst.part(80000, 8).data(), &v, 8);
    ibv_sge res = src.sge(0, 8);
    (void)post_and_complete(
        qa, ca, atomic_wr(IBV_WR_ATOMIC_FETCH_AND_ADD, res, dst.addr(80000), dst.key(), 1, 0),
        IBV_WC_SUCCESS);
    std::memcpy(&v, dst.part(80000, 8).data(), 8);
    BOOST_TEST(v == 42U);
    std::memcpy(&v, src.part(0, 8).data(), 8);
    BOOST_TEST(v == 41U);
}

// ---- cross_device -----------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(cross_device, fabric_devices,
                         *utf::precondition(devices_present{{lo0, lo1, lo2}}))

BOOST_DATA_TEST_CASE(shared_fabric_works,
                     bdata::make({addressing::lid, addressing::gid, addressing::gid_and_lid}),
                     how) {
    rc_pair_options opts;
    opts.how = how;
    rc_pair pair = rc_pair::create(*pd1, *pd2, opts);
    exercise(pair, *pd1, *pd2);
    // and the other way round
    std::swap(pair.a, pair.b);
    exercise(pair, *pd2, *pd1);
}

BOOST_AUTO_TEST_CASE(gid_without_lid_one_way) {
    // a addresses b by GID alone (a GRH, dlid 0); b addresses a by LID. Both directions work:
    // a QP's destination is found by GID when the address has a GRH, else by LID.
    rc_pair pair = rc_pair::create(*pd1, *pd2);
    qp_to_reset(*pair.a.qp);
    connect_qp(*pair.a.qp, endpoint_of(*pair.b.qp), remote_all, addressing::gid);
    buffer src(*pd1, 4096, all_access);
    buffer dst(*pd2, 4096, all_access);
    ibv_sge sg = src.sge(0, 100);
    (void)post_and_complete(*pair.a.qp, *pair.a.cq,
                            rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, dst.addr(), dst.key()),
                            IBV_WC_SUCCESS);
    check_bytes(dst.part(0, 100), src.part(0, 100), "a -> b (by GID)");
    ibv_sge back = dst.sge(200, 100);
    (void)post_and_complete(*pair.b.qp, *pair.b.cq,
                            rdma_wr(IBV_WR_RDMA_WRITE, {&back, 1}, src.addr(300), src.key()),
                            IBV_WC_SUCCESS);
    check_bytes(src.part(300, 100), dst.part(200, 100), "b -> a (by LID)");
}

BOOST_AUTO_TEST_CASE(other_fabric_is_unreachable) {
    const context_ptr ctx0 = open_device(lo0);
    const pd_ptr pd0 = alloc_pd(*ctx0);
    rc_pair pair = rc_pair::create(*pd0, *pd1);
    buffer src(*pd0, 4096, all_access);
    buffer dst(*pd1, 4096, all_access);
    const std::vector<std::byte> before = dst.data;
    ibv_sge sg = src.sge(0, 100);
    for (ibv_send_wr wr : {rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, dst.addr(), dst.key()),
                           send_wr(IBV_WR_SEND, {&sg, 1}),
                           rdma_wr(IBV_WR_RDMA_READ, {&sg, 1}, dst.addr(), dst.key())}) {
        BOOST_REQUIRE_EQUAL(post(*pair.a.qp, wr, 1), 0);
        BOOST_TEST(name(completion_now(*pair.a.cq).status) == name(IBV_WC_RETRY_EXC_ERR));
        BOOST_TEST(name(query_qp_state(*pair.a.qp)) == "ERR");
        pair.reconnect(pair.a);
    }
    // and back from dibs_lo1
    BOOST_REQUIRE_EQUAL(post(*pair.b.qp, send_wr(IBV_WR_SEND, {&sg, 1}), 2), 0);
    // (sg's lkey is on dibs_lo0: the peer check or the local check fails first; both are errors)
    BOOST_TEST(name(completion_now(*pair.b.cq).status) != name(IBV_WC_SUCCESS));
    check_bytes(dst.data, before, "unreachable target");
}

BOOST_AUTO_TEST_CASE(target_mr_must_be_on_the_peer_device) {
    rc_pair pair = rc_pair::create(*pd1, *pd2);
    buffer src(*pd1, 4096, all_access);
    buffer on_a(*pd1, 4096, all_access); // same fabric, but the requester's own device
    const std::vector<std::byte> before = on_a.data;
    ibv_sge sg = src.sge(0, 100);
    (void)post_and_complete(*pair.a.qp, *pair.a.cq,
                            rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, on_a.addr(), on_a.key()),
                            IBV_WC_REM_ACCESS_ERR);
    check_bytes(on_a.data, before, "MR on the requester's device");
}

BOOST_AUTO_TEST_CASE(unknown_lid_is_unreachable) {
    rc_pair pair = rc_pair::create(*pd1, *pd2);
    qp_endpoint nowhere = endpoint_of(*pair.b.qp);
    nowhere.address.lid = 0xbffe;
    qp_to_reset(*pair.a.qp);
    connect_qp(*pair.a.qp, nowhere);
    buffer src(*pd1, 4096, all_access);
    ibv_sge sg = src.sge(0, 100);
    (void)post_and_complete(*pair.a.qp, *pair.a.cq, send_wr(IBV_WR_SEND, {&sg, 1}),
                            IBV_WC_RETRY_EXC_ERR);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- lifecycle --------------------------------------------------------------------------------

/// In a child process: opens every device, registers remote MRs and connected QPs with some
/// traffic between them. Returns 0, or a nonzero step number on failure. Never returns to Boost.
int child_setup(std::vector<context_ptr>& ctxs, std::vector<pd_ptr>& pds,
                std::vector<rc_pair>& pairs, std::vector<buffer>& bufs) {
    try {
        for (const std::string_view dev : {lo0, lo1, lo2}) {
            ctxs.push_back(open_device(dev));
            pds.push_back(alloc_pd(*ctxs.back()));
        }
        bufs.reserve(16);
        for (const pd_ptr& pd : pds) {
            for (int k = 0; k < 3; ++k) {
                bufs.emplace_back(*pd, 100000, all_access);
            }
        }
        pairs.push_back(rc_pair::create(*pds[0], *pds[0])); // dibs_lo0 with itself
        pairs.push_back(rc_pair::create(*pds[1], *pds[2])); // dibs_lo1 - dibs_lo2
        for (rc_pair& p : pairs) {
            ibv_sge rsg = verbs::sge(*bufs.back().mr, bufs.back().part(0, 10));
            ibv_recv_wr rwr = recv_wr({&rsg, 1});
            ibv_recv_wr* rbad = nullptr;
            (void)ibv_post_recv(p.b.qp.get(), &rwr, &rbad);
            ibv_sge sg = verbs::sge(*bufs.front().mr, bufs.front().part(0, 5000));
            ibv_send_wr wr = send_wr(IBV_WR_SEND, {&sg, 1});
            ibv_send_wr* bad = nullptr;
            (void)ibv_post_send(p.a.qp.get(), &wr, &bad);
            (void)ibv_post_send(p.a.qp.get(), &wr, &bad); // waits in the ring: no receive
        }
    } catch (const std::exception& e) {
        const std::string msg = std::string{"child: "} + e.what() + "\n";
        const ssize_t written = ::write(STDERR_FILENO, msg.data(), msg.size());
        (void)written;
        return 1;
    }
    return 0;
}

/// DMBs the child holds per device: 3 MRs each, plus one ring per QP.
const std::array<unsigned, 3> child_dmbs{3 + 2, 3 + 1, 3 + 1};

struct baseline {
    baseline() : counts{dmbs(lo0), dmbs(lo1), dmbs(lo2)} {}
    std::array<unsigned, 3> counts;
};

void check_back_to(const baseline& base) {
    const std::array devs{lo0, lo1, lo2};
    for (std::size_t i = 0; i < devs.size(); ++i) {
        BOOST_TEST(wait_dmbs(devs.at(i), base.counts.at(i)) == base.counts.at(i),
                   devs.at(i) << ": DMBs after the process died");
    }
}

BOOST_AUTO_TEST_SUITE(lifecycle, *utf::precondition(devices_present{{lo0, lo1, lo2}}))

BOOST_AUTO_TEST_CASE(process_killing_itself_releases_everything) {
    const baseline base;
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        std::vector<context_ptr> ctxs;
        std::vector<pd_ptr> pds;
        std::vector<rc_pair> pairs;
        std::vector<buffer> bufs;
        const int rc = child_setup(ctxs, pds, pairs, bufs);
        if (rc == 0) {
            (void)::raise(SIGKILL);
        }
        ::_exit(rc);
    }
    int status = 0;
    BOOST_REQUIRE_EQUAL(::waitpid(pid, &status, 0), pid);
    BOOST_TEST_REQUIRE(WIFSIGNALED(status), "the child exited with " << WEXITSTATUS(status));
    BOOST_TEST(WTERMSIG(status) == SIGKILL);
    check_back_to(base);
}

BOOST_AUTO_TEST_CASE(process_killed_by_another_releases_everything) {
    const baseline base;
    std::array<int, 2> ready{};
    BOOST_REQUIRE_EQUAL(::pipe(ready.data()), 0);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(ready[0]);
        std::vector<context_ptr> ctxs;
        std::vector<pd_ptr> pds;
        std::vector<rc_pair> pairs;
        std::vector<buffer> bufs;
        const int rc = child_setup(ctxs, pds, pairs, bufs);
        const char c = rc == 0 ? 'y' : 'n';
        const ssize_t written = ::write(ready[1], &c, 1);
        (void)written;
        for (;;) {
            ::pause();
        }
    }
    ::close(ready[1]);
    char c = 0;
    const ssize_t n = ::read(ready[0], &c, 1);
    ::close(ready[0]);
    BOOST_TEST(n == 1);
    BOOST_TEST(c == 'y', "the child could not set up");
    // the child's MRs and QPs are DMBs now
    const std::array devs{lo0, lo1, lo2};
    for (std::size_t i = 0; i < devs.size(); ++i) {
        BOOST_TEST(dmbs(devs.at(i)) == base.counts.at(i) + child_dmbs.at(i), devs.at(i));
    }
    BOOST_REQUIRE_EQUAL(::kill(pid, SIGKILL), 0);
    int status = 0;
    BOOST_REQUIRE_EQUAL(::waitpid(pid, &status, 0), pid);
    BOOST_TEST(WIFSIGNALED(status));
    check_back_to(base);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- removal ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(removal, *utf::precondition(devices_present{{lo1, lo2}}))

BOOST_AUTO_TEST_CASE(device_removed_while_open) {
    const unsigned lo1_before = dmbs(lo1);
    {
        // dibs_lo2 in use by this process, connected to a QP on dibs_lo1
        const context_ptr ctx1 = open_device(lo1);
        const pd_ptr pd1 = alloc_pd(*ctx1);
        context_ptr ctx2 = open_device(lo2);
        pd_ptr pd2 = alloc_pd(*ctx2);
        comp_channel_ptr channel = create_comp_channel(*ctx2);
        buffer b1(*pd1, 65536, all_access);
        auto b2 = std::make_unique<buffer>(*pd2, 65536, all_access);
        auto pair = std::make_unique<rc_pair>(rc_pair::create(*pd1, *pd2));
        ibv_sge sg1 = b1.sge(0, 5000);
        ibv_sge sg2 = b2->sge(0, 5000);
        // traffic both ways, so each side has the other's ring attached
        BOOST_REQUIRE_EQUAL(post_recv(*pair->b.qp, {&sg2, 1}, 1), 0);
        (void)post_and_complete(*pair->a.qp, *pair->a.cq, send_wr(IBV_WR_SEND, {&sg1, 1}),
                                IBV_WC_SUCCESS);
        (void)completion_within(*pair->b.cq);
        (void)post_and_complete(*pair->b.qp, *pair->b.cq, send_wr(IBV_WR_SEND, {&sg2, 1}),
                                IBV_WC_SUCCESS); // stays in a's ring: no receive posted
        (void)post_and_complete(*pair->a.qp, *pair->a.cq,
                                rdma_wr(IBV_WR_RDMA_WRITE, {&sg1, 1}, b2->addr(), b2->key()),
                                IBV_WC_SUCCESS);

        // remove dibs_lo2 from another thread: the write must return
        auto removal = std::async(std::launch::async,
                                  [] { return write_sysfs(loopback_dir + "del_device", lo2); });
        BOOST_TEST_REQUIRE((removal.wait_for(60s) == std::future_status::ready),
                           "writing del_device hangs while the device is open");
        BOOST_TEST(removal.get() == 0);
        BOOST_TEST(!devices_present{{lo2}}(0), "dibs_lo2 is still listed");

        // the process learns about it
        bool fatal = false;
        for (int i = 0; i < 10 && !fatal; ++i) {
            const std::optional<async_event> ev = wait_async_event(*ctx2, 10s);
            BOOST_TEST_REQUIRE(ev.has_value(), "no async event after the removal");
            BOOST_TEST_MESSAGE("async event " << ibv_event_type_str(ev->type));
            fatal = ev->type == IBV_EVENT_DEVICE_FATAL;
        }
        BOOST_TEST(fatal);

        // the peer on dibs_lo1 can no longer reach it
        (void)post_and_complete(*pair->a.qp, *pair->a.cq,
                                rdma_wr(IBV_WR_RDMA_WRITE, {&sg1, 1}, b2->addr(), b2->key()),
                                IBV_WC_RETRY_EXC_ERR);

        // dibs_lo2's objects go away without a crash (errors are fine)
        ibv_sge late = b2->sge(0, 8);
        (void)post_recv(*pair->b.qp, {&late, 1}); // may fail
        pair.reset();
        b2.reset();
        channel.reset();
        pd2.reset();
        ctx2.reset();
    }
    BOOST_TEST(wait_dmbs(lo1, lo1_before) == lo1_before);

    // dibs_lo2 again, usable by the suites that run later
    BOOST_REQUIRE_EQUAL(write_sysfs(loopback_dir + "new_device", "2 0x10"), 0);
    BOOST_REQUIRE(devices_present{{lo2}}(0));
    fabric_devices f;
    rc_pair pair = rc_pair::create(*f.pd1, *f.pd2);
    exercise(pair, *f.pd1, *f.pd2);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace dibs::conformance

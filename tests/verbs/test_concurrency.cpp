// SPDX-License-Identifier: GPL-2.0
//
// verbs.conformance: several threads on one device (dibs_lo0) - suite concurrency. Threads
// post on one shared QP, run SEND traffic on another pair, and register and deregister MRs,
// all at once; every byte is checked. Boost.Test assertions are not thread safe: the threads
// return their findings and the test checks them afterwards.
#include "conformance.hpp"

#include <array>
#include <cstring>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace dibs::conformance {
namespace {

constexpr int rounds = 150;

/// Random bytes from a thread's own engine.
void fill(std::span<std::byte> bytes, std::mt19937_64& engine) {
    std::uniform_int_distribution<unsigned> dist(0, 255);
    for (std::byte& b : bytes) {
        b = static_cast<std::byte>(dist(engine));
    }
}

/// "" if `got` equals `want`, else a description.
std::string compare(std::span<const std::byte> got, std::span<const std::byte> want,
                    const std::string& what) {
    return std::equal(got.begin(), got.end(), want.begin(), want.end()) ? std::string{}
                                                                        : what + " differs; ";
}

std::string status_problem(const std::optional<ibv_wc>& wc, const std::string& what) {
    if (!wc) {
        return what + ": no completion; ";
    }
    if (wc->status != IBV_WC_SUCCESS) {
        return what + ": " + std::string{name(wc->status)} + "; ";
    }
    return {};
}

struct concurrency_fixture : lo0_device {
    concurrency_fixture()
        : shared(rc_pair::create(*pd, *pd))
        , sends(rc_pair::create(*pd, *pd))
        , shared_src(*pd, std::size_t{2} * 65536, access::local_write)
        , shared_dst(*pd, std::size_t{2} * 65536, all_access)
        , send_src(*pd, 65536, access::local_write)
        , send_dst(*pd, 65536, access::local_write) {}

    /// Thread `half` (0 or 1) writes into its half of shared_dst over the shared QP, and reads
    /// it back; both threads post on the same QP and poll the same CQ.
    std::string writer(std::size_t half, std::uint64_t thread_seed) {
        std::mt19937_64 engine{thread_seed};
        std::string problems;
        const std::size_t base = half * 65536;
        for (int r = 0; r < rounds && problems.empty(); ++r) {
            const std::size_t len = 1 + engine() % 60000;
            fill(shared_src.part(base, len), engine);
            ibv_sge sg = shared_src.sge(base, len);
            if (post(*shared.a.qp, rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, shared_dst.addr(base),
                                           shared_dst.key(), 0)) != 0) {
                return "post_send failed; ";
            }
            // unsignaled: the data is there when post_send returns
            problems += compare(shared_dst.part(base, len), shared_src.part(base, len), "write");
        }
        return problems;
    }

    /// SENDs of random sizes from sends.a to sends.b, received by the same thread.
    std::string sender(std::uint64_t thread_seed) {
        std::mt19937_64 engine{thread_seed};
        std::string problems;
        for (int r = 0; r < rounds && problems.empty(); ++r) {
            const std::size_t len = 1 + engine() % 30000;
            fill(send_src.part(0, len), engine);
            ibv_sge rsg = send_dst.sge(0, 65536);
            ibv_sge sg = send_src.sge(0, len);
            if (post_recv(*sends.b.qp, {&rsg, 1}, 1) != 0 ||
                post(*sends.a.qp, send_wr(IBV_WR_SEND, {&sg, 1}, 0)) != 0) {
                return "post failed; ";
            }
            const std::optional<ibv_wc> wc = poll_wait(*sends.b.cq, recv_timeout);
            problems += status_problem(wc, "receive");
            if (wc && wc->byte_len != len) {
                problems += "receive length; ";
            }
            problems += compare(send_dst.part(0, len), send_src.part(0, len), "message");
        }
        return problems;
    }

    /// Registers and deregisters remote-access MRs (DMBs) meanwhile.
    std::string churner() {
        std::vector<std::byte> mem(100000);
        for (int r = 0; r < rounds; ++r) {
            const mr_ptr mr = reg_mr(*pd, std::span(mem).subspan(r % 100, 50000), all_access);
            if (mr->lkey != mr->rkey) {
                return "lkey != rkey; ";
            }
        }
        return {};
    }

    rc_pair shared;
    rc_pair sends;
    buffer shared_src;
    buffer shared_dst;
    buffer send_src;
    buffer send_dst;
};

BOOST_FIXTURE_TEST_SUITE(concurrency, concurrency_fixture,
                         *utf::precondition(devices_present{{lo0}}))

BOOST_AUTO_TEST_CASE(threads_post_and_register_at_once) {
    const unsigned before = dmbs(lo0);
    std::array<std::future<std::string>, 4> jobs{
        std::async(std::launch::async, [this, s = seed()] { return writer(0, s + 1); }),
        std::async(std::launch::async, [this, s = seed()] { return writer(1, s + 2); }),
        std::async(std::launch::async, [this, s = seed()] { return sender(s + 3); }),
        std::async(std::launch::async, [this] { return churner(); }),
    };
    const std::array names{"writer 0", "writer 1", "sender", "churner"};
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        std::string problems;
        try {
            problems = jobs.at(i).get();
        } catch (const std::exception& e) {
            problems = e.what();
        }
        BOOST_TEST(problems.empty(), names.at(i) << ": " << problems);
    }
    BOOST_TEST(drain(*shared.a.cq).empty(), "unsignaled writes completed");
    BOOST_TEST(name(query_qp_state(*shared.a.qp)) == "RTS");
    BOOST_TEST(dmbs(lo0) == before);
}

BOOST_AUTO_TEST_CASE(dereg_while_the_peer_writes) {
    // a thread writes into an MR until that fails; the MR is deregistered meanwhile. Once
    // ibv_dereg_mr has returned, its memory is not written any more.
    std::vector<std::byte> mem(65536);
    mr_ptr target = reg_mr(*pd, mem, all_access);
    const std::uint64_t addr = addr_of(mem.data());
    const std::uint32_t rkey = target->rkey;
    auto writes = std::async(std::launch::async, [&] {
        ibv_sge sg = shared_src.sge(0, 65536);
        for (int n = 1;; ++n) {
            // each write differs from the one before
            std::memcpy(shared_src.part(0, sizeof(n)).data(), &n, sizeof(n));
            if (post(*shared.a.qp, rdma_wr(IBV_WR_RDMA_WRITE, {&sg, 1}, addr, rkey)) != 0) {
                return std::pair{n, std::string{"post failed"}};
            }
            const std::optional<ibv_wc> wc = poll_now(*shared.a.cq);
            if (!wc) {
                return std::pair{n, std::string{"no completion"}};
            }
            if (wc->status != IBV_WC_SUCCESS) {
                return std::pair{n, std::string{name(wc->status)}};
            }
        }
    });
    std::this_thread::sleep_for(100ms);
    target.reset();
    std::vector<std::byte> after_dereg = mem;
    const auto [n, end] = writes.get();
    BOOST_TEST_MESSAGE(n << " writes before the MR went away");
    BOOST_TEST(end == name(IBV_WC_REM_ACCESS_ERR));
    check_bytes(mem, after_dereg, "memory after ibv_dereg_mr returned");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace dibs::conformance

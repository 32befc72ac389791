// SPDX-License-Identifier: GPL-2.0
//
// The error paths of the project's modules under fault injection, on the debug kernel
// (vm-debug.faults.*, run by run-faults.sh, which loads the modules and sets failslab's and
// fail_page_alloc's knobs). Every operation that allocates is run with each of its allocations
// failing in turn (sweep) and then with random failures: it must succeed or fail with a clean
// errno, and leave nothing behind (run-faults.sh then checks the DMB counts, unloads every
// module, and vm-run --kmemleak and KASAN check the kernel).
#define BOOST_TEST_MODULE dibs fault injection
#include "error.hpp"
#include "fault_inject.hpp"
#include "fd.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

using dibs::faults::errno_set;
using dibs::faults::operation;
using dibs::faults::sweep_result;
using dibs::tools::unique_fd;

/// Rounds of random failures per operation; FAULT_ROUNDS overrides.
unsigned rounds() {
    const char* env = std::getenv("FAULT_ROUNDS"); // NOLINT(*-mt-unsafe)
    return env != nullptr ? static_cast<unsigned>(std::strtoul(env, nullptr, 10)) : 100;
}

void report(const operation& op, const sweep_result& sweep, const sweep_result& random,
            bool partial) {
    BOOST_TEST_MESSAGE(op.name << ": sweep " << sweep.calls << " calls, " << sweep.injected
                               << " failures injected, " << sweep.failed << " reported; random "
                               << random.calls << " calls, " << random.failed << " failed");
    // The sweep reached past every allocation: the last call succeeded without a failure.
    if (!partial) {
        BOOST_TEST(sweep.calls == sweep.injected + 1);
    }
    BOOST_TEST(sweep.injected >= 1U, op.name << " allocates nothing that could fail");
}

/// Sweeps op (partial: only its first max_sites allocation sites), then random failures.
void run_both(const operation& op, const errno_set& also_allowed = {}, unsigned max_sites = 5000,
              bool partial = false, unsigned random_rounds = rounds()) {
    const sweep_result s = dibs::faults::sweep(op, also_allowed, max_sites, partial);
    const sweep_result r = dibs::faults::random_failures(op, random_rounds, also_allowed);
    report(op, s, r, partial);
}

unique_fd open_attr(const char* path) {
    unique_fd fd(::open(path, O_WRONLY | O_CLOEXEC)); // NOLINT(*-vararg)
    if (!fd) {
        throw dibs::tools::error::system("faults", "open", path, errno);
    }
    return fd;
}

/// One write() to an already open sysfs attribute: 0 or the store handler's errno.
int store(const unique_fd& fd, std::string_view value) {
    return ::pwrite(fd.get(), value.data(), value.size(), 0) < 0 ? errno : 0;
}

} // namespace

BOOST_AUTO_TEST_SUITE(dibs_layer)

// Device add runs every loaded client's add_dev (dibs_rdma registers an ib_device,
// dibs_smcd an SMC-D device): each of their allocations fails in turn.
BOOST_AUTO_TEST_CASE(loopback_device_add) {
    const unique_fd add = open_attr("/sys/kernel/dibs_loopback/new_device");
    const unique_fd del = open_attr("/sys/kernel/dibs_loopback/del_device");
    run_both({"new_device dibs_lo7", [&] { return store(add, "7 0x20\n"); },
              [&] { BOOST_REQUIRE_EQUAL(store(del, "dibs_lo7\n"), 0); }});
}

// A client's registration (module load: the module loader's allocations fail too).
BOOST_AUTO_TEST_CASE(client_register) {
    const char* ko = std::getenv("TEST_DIBS_CLIENT_KO"); // NOLINT(*-mt-unsafe)
    BOOST_TEST_REQUIRE(ko != nullptr, "TEST_DIBS_CLIENT_KO is not set");
    const unique_fd fd(::open(ko, O_RDONLY | O_CLOEXEC)); // NOLINT(*-vararg)
    BOOST_TEST_REQUIRE(fd.get() >= 0, "cannot open " << ko);
    run_both({"load test_dibs_client",
              [&] {
                  // NOLINTNEXTLINE(*-vararg)
                  return ::syscall(SYS_finit_module, fd.get(), "", 0) == 0 ? 0 : errno;
              },
              [] {
                  // NOLINTNEXTLINE(*-vararg)
                  BOOST_REQUIRE_EQUAL(::syscall(SYS_delete_module, "test_dibs_client", 0), 0);
              }},
             // the module loader reports some failed allocations as EFAULT or EINVAL
             {EFAULT, EINVAL});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verbs)

struct device_fixture {
    device_fixture() {
        int n = 0;
        ibv_device** list = ibv_get_device_list(&n);
        BOOST_TEST_REQUIRE(list != nullptr, "ibv_get_device_list: " << std::strerror(errno));
        for (int i = 0; i < n && ctx == nullptr; ++i) {
            if (std::string_view{ibv_get_device_name(list[i])} == "dibs_lo0") {
                ctx = ibv_open_device(list[i]);
            }
        }
        ibv_free_device_list(list);
        BOOST_TEST_REQUIRE(ctx != nullptr, "ibv_open_device(dibs_lo0) failed");
        pd = ibv_alloc_pd(ctx);
        cq = ibv_create_cq(ctx, 16, nullptr, nullptr, 0);
        BOOST_TEST_REQUIRE((pd != nullptr && cq != nullptr));
    }
    ~device_fixture() {
        if (cq != nullptr) {
            ibv_destroy_cq(cq);
        }
        if (pd != nullptr) {
            ibv_dealloc_pd(pd);
        }
        if (ctx != nullptr) {
            ibv_close_device(ctx);
        }
    }
    device_fixture(const device_fixture&) = delete;
    device_fixture& operator=(const device_fixture&) = delete;
    device_fixture(device_fixture&&) = delete;
    device_fixture& operator=(device_fixture&&) = delete;

    ibv_context* ctx = nullptr;
    ibv_pd* pd = nullptr;
    ibv_cq* cq = nullptr;
    std::vector<std::byte> buf = std::vector<std::byte>(65536);
};

/// run() for a verb that returns an object or NULL with errno; keeps the object for undo().
template <typename T, typename Make, typename Destroy>
operation verb(std::string name, T*& slot, Make make, Destroy destroy) {
    return {std::move(name),
            [&slot, make] {
                slot = make();
                return slot != nullptr ? 0 : (errno != 0 ? errno : EIO);
            },
            [&slot, destroy] {
                BOOST_REQUIRE_EQUAL(destroy(slot), 0);
                slot = nullptr;
            }};
}

BOOST_FIXTURE_TEST_CASE(objects, device_fixture) {
    ibv_pd* new_pd = nullptr;
    run_both(verb(
        "ibv_alloc_pd", new_pd, [&] { return ibv_alloc_pd(ctx); }, ibv_dealloc_pd));

    // remote write: the MR is also a DMB (dibs_register_dmb)
    ibv_mr* mr = nullptr;
    run_both(verb(
        "ibv_reg_mr remote write", mr,
        [&] {
            return ibv_reg_mr(pd, buf.data(), buf.size(),
                              IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
                                  IBV_ACCESS_REMOTE_READ);
        },
        ibv_dereg_mr));

    // a mapped CQ ring
    ibv_cq* new_cq = nullptr;
    run_both(verb(
        "ibv_create_cq", new_cq, [&] { return ibv_create_cq(ctx, 256, nullptr, nullptr, 0); },
        ibv_destroy_cq));

    // an RC QP: its receive ring is a DMB
    ibv_qp* qp = nullptr;
    run_both(verb(
        "ibv_create_qp", qp,
        [&] {
            ibv_qp_init_attr attr{};
            attr.send_cq = cq;
            attr.recv_cq = cq;
            attr.qp_type = IBV_QPT_RC;
            attr.cap.max_send_wr = 16;
            attr.cap.max_recv_wr = 16;
            attr.cap.max_send_sge = 1;
            attr.cap.max_recv_sge = 1;
            return ibv_create_qp(pd, &attr);
        },
        ibv_destroy_qp));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(smc)

constexpr int af_smc = 43;

/// An AF_SMC echo server on 127.0.0.1 (one byte per connection) in a thread of its own, stopped
/// and joined on every path out of the test.
class echo_server {
public:
    echo_server() : srv_(::socket(af_smc, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        BOOST_TEST_REQUIRE(srv_.get() >= 0, "socket(AF_SMC): " << std::strerror(errno));
        addr_.sin_family = AF_INET;
        addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        // NOLINTBEGIN(*-reinterpret-cast)
        BOOST_TEST_REQUIRE(::bind(srv_.get(), reinterpret_cast<sockaddr*>(&addr_), len_) == 0);
        BOOST_TEST_REQUIRE(::getsockname(srv_.get(), reinterpret_cast<sockaddr*>(&addr_), &len_) ==
                           0);
        // NOLINTEND(*-reinterpret-cast)
        BOOST_TEST_REQUIRE(::listen(srv_.get(), 64) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~echo_server() {
        stop_ = true;
        {
            // wake the accept(); closed before the join, so that the read() ends too
            const unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
            (void)!::connect(c.get(), addr(), len_);
        }
        thread_.join();
    }
    echo_server(const echo_server&) = delete;
    echo_server& operator=(const echo_server&) = delete;
    echo_server(echo_server&&) = delete;
    echo_server& operator=(echo_server&&) = delete;

    [[nodiscard]] const sockaddr* addr() const noexcept {
        return reinterpret_cast<const sockaddr*>(&addr_); // NOLINT(*-reinterpret-cast)
    }
    [[nodiscard]] socklen_t len() const noexcept { return len_; }

    /// How long either end waits for the other's byte.
    static constexpr timeval timeout{.tv_sec = 3, .tv_usec = 0};

private:
    void serve() {
        while (!stop_) {
            const unique_fd c(::accept4(srv_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!c) {
                continue;
            }
            // a client whose setup failed half-way costs this loop at most the timeout
            ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
            char b = 0;
            if (::read(c.get(), &b, 1) == 1) {
                (void)!::write(c.get(), &b, 1);
            }
        }
    }

    unique_fd srv_;
    sockaddr_in addr_{};
    socklen_t len_ = sizeof(sockaddr_in);
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// Connection setup over SMC-D: the connecting thread's allocations fail (the CLC handshake,
// the link group, the connection's buffers and DMB; the socket itself is made beforehand). A
// failed step either fails connect() or falls back to TCP; the byte must come back either way.
// The connection is closed with failures still armed: its teardown is under test too.
BOOST_AUTO_TEST_CASE(connect) {
    const echo_server server;
    unique_fd c;
    run_both({"AF_SMC connect + 1 byte each way",
              [&] {
                  const unique_fd conn = std::move(c);
                  if (::connect(conn.get(), server.addr(), server.len()) != 0) {
                      return errno;
                  }
                  char b = 'x';
                  if (::write(conn.get(), &b, 1) != 1 || ::read(conn.get(), &b, 1) != 1) {
                      return errno != 0 ? errno : EIO;
                  }
                  return b == 'x' ? 0 : EIO;
              },
              {},
              [&] {
                  c = unique_fd(::socket(af_smc, SOCK_STREAM | SOCK_CLOEXEC, 0));
                  BOOST_TEST_REQUIRE(c.get() >= 0, "socket(AF_SMC): " << std::strerror(errno));
                  // a lost handshake or byte ends in an error, not a hang
                  const timeval limit = echo_server::timeout;
                  ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
                  ::setsockopt(c.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
              }},
             // failed socket buffers, a refused or reset handshake, a byte that timed out
             {ENOBUFS, ECONNREFUSED, ECONNRESET, ECONNABORTED, EPIPE, EAGAIN});
}

BOOST_AUTO_TEST_SUITE_END()

// SPDX-License-Identifier: GPL-2.0
//
// dibs-verbs-errors-across: the verbs conformance cases that make sense between two guests, on
// the cross-VM device (tests/ivshmem/cross-vm.sh, case verbs_errors). Two processes, one per
// guest, exchange their QP's address and two memory regions over TCP: `target` (every remote
// right) and `local_only` (none). The client then runs, against the server's memory:
//   RDMA WRITE, RDMA READ (of what it wrote and of bytes it did not), FETCH_ADD and CMP_SWAP,
//   SEND with immediate, a WRITE followed by a SEND (the receiver checks that the WRITE's bytes
//   are there when the SEND completes), and the owner's checks from another kernel: a bad
//   rkey, a range past the MR's end, WRITE and READ on an MR without remote rights - each must
//   complete with IBV_WC_REM_ACCESS_ERR and move the QP to the error state; the client then
//   resets and reconnects it, and a last WRITE must work again.
// The server checks its memory byte for byte afterwards: what succeeded is there, nothing a
// failed request aimed at changed. Each side prints TAP lines and exits 1 on any failure.
#include "cli.hpp"
#include "dibs_verbs.hpp"
#include "error.hpp"
#include "fd.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace dibs::verbs; // NOLINT(google-build-using-namespace)
using dibs::tools::error;
using dibs::tools::unique_fd;
using namespace std::chrono_literals;

constexpr std::string_view tool = "dibs-verbs-errors-across";

constexpr std::string_view help = R"(Usage: dibs-verbs-errors-across --role server|client [OPTIONS]

Verbs error cases and data checks between two systems over one RC connection (see the
source's header). The server listens on --port, the client connects to --addr.

Options:
  --role R       server or client (required)
  --addr A       the server's IPv4 address (client; default 127.0.0.1)
  --port P       TCP port for the address exchange (default 7900)
  --device D     the verbs device (default dibs_iv0)
  -h, --help     this text
)";

constexpr std::size_t target_size = 65536;
// Layout of the server's target MR.
constexpr std::size_t written = 0;        // [0, 32K): the client's WRITE
constexpr std::size_t ordered = 36864;    // [36K, 40K): the WRITE before the second SEND
constexpr std::size_t atomic_at = 40960;  // one u64
constexpr std::size_t last_write = 45056; // [44K, 48K): the WRITE after the errors
constexpr std::size_t untouched = 49152;  // [48K, 64K): what the failed requests aimed at
constexpr std::uint32_t imm = 0xc0ffee;
constexpr std::uint64_t swap_value = 0x1122334455667788ULL;

std::byte pattern(char p, std::size_t i) {
    return static_cast<std::byte>(std::size_t{static_cast<unsigned char>(p)} * 31U + i * 7U +
                                  (i >> 8U));
}
void fill(std::span<std::byte> s, char p, std::size_t base) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        s[i] = pattern(p, base + i);
    }
}
bool is(std::span<const std::byte> s, char p, std::size_t base) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != pattern(p, base + i)) {
            return false;
        }
    }
    return true;
}

/// What each side tells the other (host order: both ends are x86 guests of one host).
struct hello {
    std::uint32_t qpn;
    std::uint16_t lid;
    std::array<std::uint8_t, 16> gid;
    std::uint64_t addr;
    std::uint32_t rkey;
    std::uint64_t local_only_addr;
    std::uint32_t local_only_rkey;
};

void write_all(int fd, const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    while (n > 0) {
        const ssize_t k = ::write(fd, b, n);
        if (k <= 0) {
            throw error("exchange: write failed: " + dibs::tools::errno_text(errno));
        }
        b += k;
        n -= static_cast<std::size_t>(k);
    }
}
void read_all(int fd, void* p, std::size_t n) {
    auto* b = static_cast<std::byte*>(p);
    while (n > 0) {
        const ssize_t k = ::read(fd, b, n);
        if (k <= 0) {
            throw error("exchange: the peer closed the connection or read failed");
        }
        b += k;
        n -= static_cast<std::size_t>(k);
    }
}

unique_fd exchange_socket(bool server, const std::string& addr, std::uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) {
        throw error::usage("--addr: not an IPv4 address: " + addr);
    }
    unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) {
        throw error("exchange: socket: " + dibs::tools::errno_text(errno));
    }
    const auto* sp = reinterpret_cast<const sockaddr*>(&sa); // NOLINT(*-reinterpret-cast)
    if (server) {
        const int one = 1;
        ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
        if (::bind(s.get(), sp, sizeof(sa)) != 0 || ::listen(s.get(), 1) != 0) {
            throw error("exchange: cannot listen on port " + std::to_string(port) + ": " +
                        dibs::tools::errno_text(errno));
        }
        std::cout << "server: listening on port " << port << std::endl;
        unique_fd c(::accept4(s.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) {
            throw error("exchange: accept: " + dibs::tools::errno_text(errno));
        }
        return c;
    }
    for (int tries = 0;; ++tries) {
        if (::connect(s.get(), sp, sizeof(sa)) == 0) {
            return s;
        }
        if (tries == 100) {
            throw error("exchange: cannot connect to " + addr + ":" + std::to_string(port) + ": " +
                        dibs::tools::errno_text(errno));
        }
        std::this_thread::sleep_for(100ms);
    }
}

class checks {
public:
    void operator()(bool ok, const std::string& what) {
        ++n_;
        if (!ok) {
            ++failed_;
        }
        std::cout << (ok ? "ok " : "not ok ") << n_ << " - " << what << std::endl;
    }
    [[nodiscard]] int failed() const { return failed_; }

private:
    int n_ = 0;
    int failed_ = 0;
};

/// One end: device, PD, CQ, QP, both MRs.
struct end {
    explicit end(std::string_view device)
        : ctx(open_device(device))
        , pd(alloc_pd(*ctx))
        , cq(create_cq(*ctx, 64))
        , qp(create_rc_qp(*pd, *cq, *cq))
        , buf(target_size)
        , other(target_size)
        , target(reg_mr(*pd, buf, all_access))
        , local_only(reg_mr(*pd, other, access::local_write)) {
        qp_to_init(*qp, remote_all);
    }
    [[nodiscard]] hello me() const {
        hello h{};
        const port_address a = query_address(*ctx);
        h.qpn = qp->qp_num;
        h.lid = a.lid;
        std::memcpy(h.gid.data(), a.gid.raw, h.gid.size());
        h.addr = addr_of(buf.data());
        h.rkey = target->rkey;
        h.local_only_addr = addr_of(other.data());
        h.local_only_rkey = local_only->rkey;
        return h;
    }
    void connect(const hello& peer) {
        qp_endpoint ep;
        ep.qpn = peer.qpn;
        ep.address.lid = peer.lid;
        std::memcpy(ep.address.gid.raw, peer.gid.data(), peer.gid.size());
        qp_to_rtr(*qp, ep, addressing::gid);
        qp_to_rts(*qp);
    }
    /// Posts `wr` and returns its completion's status (or a timeout).
    ibv_wc_status complete(ibv_send_wr wr) {
        wr.next = nullptr;
        ibv_send_wr* bad = nullptr;
        if (ibv_post_send(qp.get(), &wr, &bad) != 0) {
            throw error("ibv_post_send failed");
        }
        const std::optional<ibv_wc> wc = poll_wait(*cq, 10s);
        if (!wc) {
            throw error("no completion within 10 s");
        }
        return wc->status;
    }

    context_ptr ctx;
    pd_ptr pd;
    cq_ptr cq;
    qp_ptr qp;
    std::vector<std::byte> buf;
    std::vector<std::byte> other;
    mr_ptr target;
    mr_ptr local_only;
};

int run_server(end& e, int sock, checks& check) {
    fill(e.buf, 'S', 0);
    fill(e.other, 'L', 0);
    // receives go to a buffer of their own (an MR on it)
    std::vector<std::byte> rx(std::size_t{2} * 4096);
    std::array<ibv_sge, 2> rsg{};
    const mr_ptr rx_mr = reg_mr(*e.pd, rx, access::local_write);
    for (std::size_t i = 0; i < 2; ++i) {
        rsg.at(i) = sge(*rx_mr, std::span(rx).subspan(i * 4096, 4096));
        ibv_recv_wr wr = recv_wr(std::span(&rsg.at(i), 1), i);
        ibv_recv_wr* bad = nullptr;
        if (ibv_post_recv(e.qp.get(), &wr, &bad) != 0) {
            throw error("ibv_post_recv failed");
        }
    }
    const hello me = e.me();
    write_all(sock, &me, sizeof(me));
    hello peer{};
    read_all(sock, &peer, sizeof(peer));
    e.connect(peer);
    char go = 0;
    write_all(sock, &go, 1); // connected: the client may start

    const std::optional<ibv_wc> first = poll_wait(*e.cq, 60s);
    check(first && first->status == IBV_WC_SUCCESS && first->opcode == IBV_WC_RECV &&
              first->byte_len == 1000 && (first->wc_flags & IBV_WC_WITH_IMM) != 0 &&
              imm_of(*first) == imm && is(std::span(rx).first(1000), 'M', 0),
          "SEND with immediate: 1000 bytes and the immediate arrived");
    const std::optional<ibv_wc> second = poll_wait(*e.cq, 60s);
    check(second && second->status == IBV_WC_SUCCESS && second->byte_len == 16,
          "the SEND after a WRITE arrived");
    check(is(std::span(e.buf).subspan(ordered, 4096), 'O', ordered),
          "the WRITE before it is in place when the SEND completes (ordering)");

    char verdict = 0;
    read_all(sock, &verdict, 1); // the client is done
    std::uint64_t word = 0;
    std::memcpy(&word, e.buf.data() + atomic_at, sizeof(word));
    check(is(std::span(e.buf).subspan(written, 32768), 'W', written), "the WRITE's 32 KiB");
    check(word == swap_value, "the atomics' result");
    check(is(std::span(e.buf).subspan(last_write, 4096), 'Z', last_write),
          "the WRITE after the errors");
    check(is(std::span(e.buf).subspan(untouched), 'S', untouched),
          "nothing the failed requests aimed at changed (bad rkey, past the end)");
    check(is(e.other, 'L', 0), "the MR without remote rights is unchanged");
    check(verdict == 0, "the client's checks passed");
    return check.failed() == 0 ? 0 : 1;
}

int run_client(end& e, int sock, checks& check) {
    hello peer{};
    read_all(sock, &peer, sizeof(peer));
    const hello me = e.me();
    write_all(sock, &me, sizeof(me));
    e.connect(peer);
    char go = 0;
    read_all(sock, &go, 1);
    const auto reconnect = [&] {
        check(query_qp_state(*e.qp) == IBV_QPS_ERR, "  and the QP is in the error state");
        qp_to_reset(*e.qp);
        qp_to_init(*e.qp, remote_all);
        e.connect(peer);
    };
    std::span<std::byte> buf(e.buf);

    fill(buf.first(32768), 'W', written);
    ibv_sge sg = sge(*e.target, buf.first(32768));
    check(e.complete(rdma_wr(IBV_WR_RDMA_WRITE, std::span(&sg, 1), peer.addr + written,
                             peer.rkey)) == IBV_WC_SUCCESS,
          "RDMA WRITE 32 KiB");
    std::fill(buf.begin(), buf.end(), std::byte{0});
    sg = sge(*e.target, buf.first(32768));
    check(e.complete(rdma_wr(IBV_WR_RDMA_READ, std::span(&sg, 1), peer.addr + written,
                             peer.rkey)) == IBV_WC_SUCCESS &&
              is(buf.first(32768), 'W', written),
          "RDMA READ of the 32 KiB written");
    sg = sge(*e.target, buf.subspan(32768, 4096));
    check(e.complete(rdma_wr(IBV_WR_RDMA_READ, std::span(&sg, 1), peer.addr + untouched,
                             peer.rkey)) == IBV_WC_SUCCESS &&
              is(buf.subspan(32768, 4096), 'S', untouched),
          "RDMA READ of bytes the server wrote itself");

    std::uint64_t before = 0;
    {
        std::array<std::byte, 8> s{};
        fill(s, 'S', atomic_at);
        std::memcpy(&before, s.data(), sizeof(before));
    }
    ibv_sge res = sge(*e.target, buf.subspan(40000, 8));
    const bool fa = e.complete(atomic_wr(IBV_WR_ATOMIC_FETCH_AND_ADD, res, peer.addr + atomic_at,
                                         peer.rkey, 5, 0)) == IBV_WC_SUCCESS;
    std::uint64_t old = 0;
    std::memcpy(&old, buf.data() + 40000, sizeof(old));
    check(fa && old == before, "FETCH_ADD returns the value before");
    const bool cs = e.complete(atomic_wr(IBV_WR_ATOMIC_CMP_AND_SWP, res, peer.addr + atomic_at,
                                         peer.rkey, before + 5, swap_value)) == IBV_WC_SUCCESS;
    std::memcpy(&old, buf.data() + 40000, sizeof(old));
    check(cs && old == before + 5, "CMP_SWAP sees the added value and swaps");

    fill(buf.first(1000), 'M', 0);
    sg = sge(*e.target, buf.first(1000));
    check(e.complete(send_wr(IBV_WR_SEND_WITH_IMM, std::span(&sg, 1), IBV_SEND_SIGNALED, imm)) ==
              IBV_WC_SUCCESS,
          "SEND with immediate");
    fill(buf.subspan(ordered, 4096), 'O', ordered);
    sg = sge(*e.target, buf.subspan(ordered, 4096));
    check(e.complete(rdma_wr(IBV_WR_RDMA_WRITE, std::span(&sg, 1), peer.addr + ordered,
                             peer.rkey)) == IBV_WC_SUCCESS,
          "RDMA WRITE before a SEND");
    sg = sge(*e.target, buf.first(16));
    check(e.complete(send_wr(IBV_WR_SEND, std::span(&sg, 1))) == IBV_WC_SUCCESS,
          "the SEND after it");

    fill(buf.subspan(untouched), 'X', 0);
    sg = sge(*e.target, buf.subspan(untouched, 4096));
    check(e.complete(rdma_wr(IBV_WR_RDMA_WRITE, std::span(&sg, 1), peer.addr + untouched,
                             peer.rkey ^ 0x5a5a0000U)) == IBV_WC_REM_ACCESS_ERR,
          "RDMA WRITE with a bad rkey: remote access error");
    reconnect();
    sg = sge(*e.target, buf.subspan(untouched, 64));
    check(e.complete(rdma_wr(IBV_WR_RDMA_WRITE, std::span(&sg, 1), peer.addr + target_size - 8,
                             peer.rkey)) == IBV_WC_REM_ACCESS_ERR,
          "RDMA WRITE past the MR's end: remote access error");
    reconnect();
    check(e.complete(rdma_wr(IBV_WR_RDMA_WRITE, std::span(&sg, 1), peer.local_only_addr,
                             peer.local_only_rkey)) == IBV_WC_REM_ACCESS_ERR,
          "RDMA WRITE to an MR without remote write: remote access error");
    reconnect();
    check(e.complete(rdma_wr(IBV_WR_RDMA_READ, std::span(&sg, 1), peer.local_only_addr,
                             peer.local_only_rkey)) == IBV_WC_REM_ACCESS_ERR,
          "RDMA READ from an MR without remote read: remote access error");
    reconnect();

    fill(buf.subspan(last_write, 4096), 'Z', last_write);
    sg = sge(*e.target, buf.subspan(last_write, 4096));
    check(e.complete(rdma_wr(IBV_WR_RDMA_WRITE, std::span(&sg, 1), peer.addr + last_write,
                             peer.rkey)) == IBV_WC_SUCCESS,
          "RDMA WRITE after the errors and reconnects");
    const char verdict = check.failed() == 0 ? 0 : 1;
    write_all(sock, &verdict, 1);
    return check.failed() == 0 ? 0 : 1;
}

int run(std::span<const std::string_view> args) {
    auto app = dibs::tools::make_app(tool);
    std::string role;
    std::string addr = "127.0.0.1";
    std::uint16_t port = 7900;
    std::string device = "dibs_iv0";
    bool want_help = false;
    app->add_option("--role", role)->check(CLI::IsMember({"server", "client"}));
    app->add_option("--addr", addr);
    app->add_option("--port", port);
    app->add_option("--device", device);
    dibs::tools::add_switch(*app, "-h,--help", want_help);
    dibs::tools::parse(*app, args);
    if (want_help) {
        std::cout << help;
        return dibs::tools::exit_ok;
    }
    if (role.empty()) {
        throw error::usage("--role is required");
    }
    const bool server = role == "server";
    end e(device);
    unique_fd sock = exchange_socket(server, addr, port);
    checks check;
    const int rc = server ? run_server(e, sock.get(), check) : run_client(e, sock.get(), check);
    std::cout << role << ": " << (rc == 0 ? "PASS" : "FAIL") << std::endl;
    return rc;
}

} // namespace

int main(int argc, char* argv[]) {
    const auto args = dibs::tools::arguments(argc, argv);
    return dibs::tools::report_errors(tool, std::cout, std::cerr, [&] {
        try {
            return run(args);
        } catch (const verbs_error& e) {
            throw error(e.what());
        }
    });
}

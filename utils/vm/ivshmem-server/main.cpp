// SPDX-License-Identifier: GPL-2.0
//
// dibs-ivshmem-server: the host side of QEMU's ivshmem-doorbell for the test bed's cross-VM dibs
// device (Debian ships no ivshmem server). It creates the shared-memory file, writes the dibs
// region header into it (include/uapi/linux/dibs_ivshmem.h), and serves QEMU's ivshmem protocol on
// a UNIX socket (QEMU's docs/specs/ivshmem-spec.txt): every message is one little-endian int64,
// some with a file descriptor. To a client that connects it sends the protocol version (0), the
// client's peer id (the lowest free one), -1 with the shared-memory fd, then each existing peer's
// id once per vector with that peer's eventfd for the vector, then its own id the same way with its
// own eventfds; the existing peers get the newcomer's id and eventfds. When a client goes, the
// others get its id without a descriptor. Clients never send.
//
// It removes the socket and the shared-memory file when it ends (SIGTERM, SIGINT, SIGHUP).
#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"

#include <array>
#include <bit>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/dibs_ivshmem.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using dibs::tools::error;
using dibs::tools::unique_fd;

constexpr std::string_view tool = "dibs-ivshmem-server";

constexpr std::string_view help = R"(Usage: dibs-ivshmem-server --socket PATH --shm PATH [OPTIONS]

Serves QEMU's ivshmem-doorbell protocol for the cross-VM dibs device: creates the
shared-memory file PATH (it must not exist), writes the dibs region header into it, and
hands the region and every peer's doorbell eventfds to each QEMU that connects to the
UNIX socket. Start it before the guests (QEMU: -chardev socket,path=SOCK,id=ivs
-device ivshmem-doorbell,chardev=ivs,vectors=N). Runs until SIGTERM, SIGINT or SIGHUP,
then removes the socket and the shared-memory file.

Options:
  --socket PATH   UNIX socket to listen on (must not exist)
  --shm PATH      shared-memory file to create, e.g. /dev/shm/NAME
  --size SIZE     region size, a power of two of at least 16M (default 256M); QEMU
                  takes it from the file
  --vectors N     doorbell vectors per peer, as QEMU's vectors= (default 1)
  --fabric ID     dibs fabric id of the region, 1..0xfffe (default: random)
  -h, --help      this text

Peer ids are given in connection order, the lowest free first; a client beyond the
region's peer slots (8) is served but its guest's driver refuses the device.
)";

volatile std::sig_atomic_t stop = 0;
extern "C" void on_signal(int /*sig*/) {
    stop = 1;
}

/// Sends one message: value, and fd if fd >= 0.
void send_msg(int sock, std::int64_t value, int fd) {
    static_assert(std::endian::native == std::endian::little);
    iovec iov{&value, sizeof(value)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
    if (fd >= 0) {
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof(fd));
    }
    if (::sendmsg(sock, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(value))) {
        throw error("cannot send to a client: " + dibs::tools::errno_text(errno));
    }
}

struct peer {
    std::int64_t id;
    unique_fd sock;
    std::vector<unique_fd> vectors;
};

/// The header of a fresh region (all else zero: every peer slot FREE).
dibs_ivshmem_hdr make_header(std::uint64_t size, std::uint16_t fabric) {
    dibs_ivshmem_hdr h{};
    h.magic = DIBS_IVSHMEM_MAGIC;
    h.version = DIBS_IVSHMEM_VERSION;
    h.hdr_size = sizeof(h);
    h.region_size = size;
    h.fabric_id = fabric;
    h.max_peers = DIBS_IVSHMEM_MAX_PEERS;
    h.max_dmbs = DIBS_IVSHMEM_MAX_DMBS;
    h.ring_entries = DIBS_IVSHMEM_RING_ENTRIES;
    h.section_off = DIBS_IVSHMEM_PAGE;
    h.section_size = DIBS_IVSHMEM_SECTION_SIZE(size);
    h.arena_off = DIBS_IVSHMEM_ARENA_OFF;
    return h;
}

unique_fd create_region(const std::filesystem::path& path, std::uint64_t size,
                        std::uint16_t fabric) {
    unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)); // NOLINT
    if (!fd) {
        throw error::system(tool, "create", path, errno);
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
        const int e = errno;
        ::unlink(path.c_str());
        throw error::system(tool, "size", path, e);
    }
    const dibs_ivshmem_hdr h = make_header(size, fabric);
    if (::pwrite(fd.get(), &h, sizeof(h), 0) != static_cast<ssize_t>(sizeof(h))) {
        const int e = errno;
        ::unlink(path.c_str());
        throw error::system(tool, "write the header into", path, e);
    }
    return fd;
}

unique_fd listen_on(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.native().size() >= sizeof(addr.sun_path)) {
        throw error::usage("socket path too long (at most " +
                           std::to_string(sizeof(addr.sun_path) - 1) +
                           " bytes): " + dibs::tools::quote(path.native()));
    }
    std::memcpy(addr.sun_path, path.c_str(), path.native().size());
    unique_fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    // NOLINTNEXTLINE(*-reinterpret-cast)
    if (!s || ::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(s.get(), 16) != 0) {
        throw error::system(tool, "listen on", path, errno);
    }
    return s;
}

class server {
public:
    server(unique_fd listener, unique_fd shm, unsigned vectors)
        : listener_(std::move(listener))
        , shm_(std::move(shm))
        , vectors_(vectors) {}

    void run() {
        while (stop == 0) {
            std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
            for (const peer& p : peers_) {
                fds.push_back({p.sock.get(), POLLIN, 0});
            }
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                if (errno == EINTR) {
                    continue;
                }
                throw error("poll: " + dibs::tools::errno_text(errno));
            }
            // clients never send: readable means gone
            for (std::size_t i = fds.size(); i-- > 1;) {
                if (fds[i].revents != 0) {
                    drop(i - 1);
                }
            }
            if ((fds[0].revents & POLLIN) != 0) {
                accept_one();
            }
        }
    }

private:
    std::int64_t free_id() const {
        for (std::int64_t id = 0;; ++id) {
            bool used = false;
            for (const peer& p : peers_) {
                used = used || p.id == id;
            }
            if (!used) {
                return id;
            }
        }
    }

    void announce(const peer& to, const peer& about) const {
        for (const unique_fd& v : about.vectors) {
            send_msg(to.sock.get(), about.id, v.get());
        }
    }

    void accept_one() {
        unique_fd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) {
            return;
        }
        peer n{free_id(), std::move(c), {}};
        for (unsigned v = 0; v < vectors_; ++v) {
            unique_fd e(::eventfd(0, EFD_CLOEXEC));
            if (!e) {
                std::cerr << tool << ": eventfd: " << dibs::tools::errno_text(errno)
                          << ": client refused\n";
                return;
            }
            n.vectors.push_back(std::move(e));
        }
        try {
            send_msg(n.sock.get(), 0, -1); // protocol version
            send_msg(n.sock.get(), n.id, -1);
            send_msg(n.sock.get(), -1, shm_.get());
            for (const peer& p : peers_) {
                announce(n, p);
            }
            announce(n, n);
        } catch (const error& e) {
            std::cerr << tool << ": peer " << n.id << ": " << e.what() << '\n';
            return;
        }
        for (const peer& p : peers_) {
            try {
                announce(p, n);
            } catch (const error& e) {
                std::cerr << tool << ": peer " << p.id << ": " << e.what() << '\n';
            }
        }
        std::cerr << tool << ": peer " << n.id << " connected\n";
        peers_.push_back(std::move(n));
    }

    void drop(std::size_t i) {
        const std::int64_t id = peers_[i].id;
        peers_.erase(peers_.begin() + static_cast<std::ptrdiff_t>(i));
        for (const peer& p : peers_) {
            try {
                send_msg(p.sock.get(), id, -1);
            } catch (const error& e) {
                std::cerr << tool << ": peer " << p.id << ": " << e.what() << '\n';
            }
        }
        std::cerr << tool << ": peer " << id << " disconnected\n";
    }

    unique_fd listener_;
    unique_fd shm_;
    unsigned vectors_;
    std::vector<peer> peers_;
};

int run(std::span<const std::string_view> args) {
    auto app = dibs::tools::make_app(tool);
    std::string socket_path;
    std::string shm_path;
    std::uint64_t size = 256ULL << 20;
    unsigned vectors = 1;
    int fabric = 0;
    bool want_help = false;
    app->add_option("--socket", socket_path);
    app->add_option("--shm", shm_path);
    app->add_option("--size", size)->transform(CLI::AsSizeValue(false));
    app->add_option("--vectors", vectors)->check(CLI::Range(1U, 64U));
    app->add_option("--fabric", fabric)->check(CLI::Range(1, 0xfffe));
    dibs::tools::add_switch(*app, "-h,--help", want_help);
    dibs::tools::parse(*app, args);
    if (want_help) {
        std::cout << help;
        return dibs::tools::exit_ok;
    }
    if (socket_path.empty() || shm_path.empty()) {
        throw error::usage("--socket and --shm are required");
    }
    if (!std::has_single_bit(size) || size < DIBS_IVSHMEM_MIN_REGION) {
        throw error::usage("--size must be a power of two of at least 16M, not " +
                           std::to_string(size));
    }
    if (fabric == 0) {
        std::random_device rd;
        fabric = static_cast<int>(1 + rd() % 0xfffe);
    }

    struct sigaction sa {};
    sa.sa_handler = on_signal; // no SA_RESTART: poll() returns EINTR
    for (const int sig : {SIGTERM, SIGINT, SIGHUP}) {
        ::sigaction(sig, &sa, nullptr);
    }
    unique_fd shm = create_region(shm_path, size, static_cast<std::uint16_t>(fabric));
    unique_fd listener;
    try {
        listener = listen_on(socket_path);
    } catch (...) {
        ::unlink(shm_path.c_str());
        throw;
    }
    std::cerr << tool << ": " << shm_path << ": " << (size >> 20) << " MiB, fabric 0x" << std::hex
              << fabric << std::dec << "; listening on " << socket_path << '\n';
    int status = dibs::tools::exit_ok;
    try {
        server(std::move(listener), std::move(shm), vectors).run();
    } catch (const error& e) {
        std::cerr << tool << ": " << e.what() << '\n';
        status = dibs::tools::exit_failure;
    }
    ::unlink(socket_path.c_str());
    ::unlink(shm_path.c_str());
    return status;
}

} // namespace

int main(int argc, char* argv[]) {
    const auto args = dibs::tools::arguments(argc, argv);
    return dibs::tools::report_errors(tool, std::cout, std::cerr, [&] { return run(args); });
}

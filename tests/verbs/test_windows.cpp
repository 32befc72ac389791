// SPDX-License-Identifier: GPL-2.0
//
// verbs.windows: the bypass data path's direct windows (include/uapi/rdma/dibs-rdma-abi.h,
// "Direct windows"; kernel/dibs_rdma_window.c; providers/dibs/bypass.hpp).
//
//   data         the provider really maps the target MR (/proc/self/maps) and WRITE, READ and
//                both atomics through it land byte for byte; what a window cannot reach (a
//                partial page, a write-only MR) still works through the kernel
//   revoke_*     a writer in a tight loop while the owner (another process) deregisters the
//                MR, destroys its QP, is SIGKILLed, or its device is removed: the writer ends
//                with an error completion, and a canary written right after the revocation -
//                in the old buffer, or in memory a third process takes after the owner died -
//                stays intact
//   fork_fd      a child of fork() has no window; a process holding the uverbs file maps only
//                what that file's context may, and loses it on revocation like the owner
//   bad_input    every error of the open-window method and of window mmap offsets
//
// The owner runs in a child process (fork before any device is opened); the two sides swap
// addresses over a socketpair. Runs in the VM (run-conformance.sh) on dibs_lo0, and on
// dibs_lo1/dibs_lo2 for device removal.
#include "conformance.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <boost/test/unit_test.hpp>
#include <rdma/dibs-rdma-abi.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dibs::conformance {
namespace {

constexpr std::size_t page = 4096;
constexpr std::byte pattern_writer{0xa5};
constexpr std::byte pattern_canary{0x3c};

// ---- helpers ----------------------------------------------------------------------------------

/// Page-aligned anonymous memory, unmapped when destroyed.
class pages {
public:
    explicit pages(std::size_t n)
        : len_(n * page)
        , addr_(::mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) {
        if (addr_ == MAP_FAILED) {
            throw verbs_error("mmap", errno, "test buffer");
        }
    }
    ~pages() { ::munmap(addr_, len_); }
    pages(const pages&) = delete;
    pages& operator=(const pages&) = delete;
    pages(pages&&) = delete;
    pages& operator=(pages&&) = delete;

    [[nodiscard]] std::span<std::byte> bytes() const noexcept {
        return {static_cast<std::byte*>(addr_), len_};
    }

private:
    std::size_t len_;
    void* addr_;
};

/// Direct windows mapped in this process.
std::size_t window_mappings() {
    return conformance::window_mappings(window_kind::direct).size();
}

/// DIBS_RDMA_METHOD_QP_OPEN_WINDOW with a raw QP handle; returns 0 or errno.
int open_window(int cmd_fd, std::uint32_t qp_handle, std::uint32_t rkey,
                dibs_rdma_window_resp& resp, std::size_t resp_len = sizeof(dibs_rdma_window_resp)) {
    std::array<ib_uverbs_attr, 3> attrs{};
    attrs[0].attr_id = DIBS_RDMA_ATTR_OPEN_WINDOW_QP;
    attrs[0].data = qp_handle;
    attrs[1].attr_id = DIBS_RDMA_ATTR_OPEN_WINDOW_RKEY;
    attrs[1].len = sizeof(rkey);
    attrs[1].data = rkey;
    attrs[2].attr_id = DIBS_RDMA_ATTR_OPEN_WINDOW_RESP;
    attrs[2].len = static_cast<std::uint16_t>(resp_len);
    attrs[2].data = addr_of(&resp);
    return qp_method(cmd_fd, DIBS_RDMA_METHOD_QP_OPEN_WINDOW, attrs);
}

int open_window(ibv_qp& qp, std::uint32_t rkey, dibs_rdma_window_resp& resp) {
    return open_window(qp.context->cmd_fd, qp.handle, rkey, resp);
}

/// A socketpair end: fixed-size messages between the test and its child processes.
class channel {
public:
    explicit channel(int fd) noexcept : fd_(fd) {}
    ~channel() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    channel(channel&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    channel& operator=(channel&&) = delete;

    template <class T>
    void send(const T& v) const {
        if (::send(fd_, &v, sizeof(v), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(v))) {
            throw verbs_error("send", errno, "test channel");
        }
    }
    template <class T>
    [[nodiscard]] T recv() const {
        T v{};
        if (::recv(fd_, &v, sizeof(v), MSG_WAITALL) != static_cast<ssize_t>(sizeof(v))) {
            throw verbs_error("recv", errno != 0 ? errno : EPIPE, "test channel");
        }
        return v;
    }

private:
    int fd_;
};

/// A child process running body(channel); killed (if still running) and reaped when
/// destroyed. Its exit status: 0 if body returned true.
class child {
public:
    explicit child(const std::function<bool(const channel&)>& body) {
        std::array<int, 2> sv{};
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv.data()) != 0) {
            throw verbs_error("socketpair", errno, "test channel");
        }
        pid_ = ::fork();
        if (pid_ < 0) {
            throw verbs_error("fork", errno, "test child");
        }
        if (pid_ == 0) {
            ::close(sv[0]);
            bool ok = false;
            try {
                const channel ch{sv[1]};
                ok = body(ch);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "child: %s\n",
                             e.what()); // NOLINT(cppcoreguidelines-pro-type-vararg)
            }
            ::_exit(ok ? 0 : 1);
        }
        ::close(sv[1]);
        ch_.emplace(sv[0]);
    }
    ~child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            (void)wait();
        }
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    child(child&&) = delete;
    child& operator=(child&&) = delete;

    [[nodiscard]] const channel& ch() const { return *ch_; }
    void kill(int sig) const { ::kill(pid_, sig); }
    /// waitpid(): the raw status.
    int wait() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return status;
    }

private:
    pid_t pid_ = -1;
    std::optional<channel> ch_;
};

/// What the owner tells the writer.
struct owner_info {
    qp_endpoint ep;
    std::uint64_t addr;
    std::uint64_t len;
    std::uint32_t rkey;
};

/// The owner's end: a QP on `dev` connected to the writer, and an MR over `mem`.
struct owner_end {
    owner_end(std::string_view dev, std::span<std::byte> mem, access rights)
        : ctx(open_device(dev))
        , pd(alloc_pd(*ctx))
        , cq(create_cq(*ctx, 64))
        , qp(create_rc_qp(*pd, *cq, *cq))
        , mr(reg_mr(*pd, mem, rights)) {}

    /// Swaps endpoints with the writer over ch and connects.
    void connect(const channel& ch, std::span<std::byte> mem) {
        ch.send(owner_info{endpoint_of(*qp), addr_of(mem.data()), mem.size(), mr->rkey});
        connect_qp(*qp, ch.recv<qp_endpoint>());
        ch.send(true);
    }

    context_ptr ctx;
    pd_ptr pd;
    cq_ptr cq;
    qp_ptr qp;
    mr_ptr mr;
};

/// The writer's end, in the test process.
struct writer_end {
    explicit writer_end(std::string_view dev)
        : ctx(open_device(dev))
        , pd(alloc_pd(*ctx))
        , cq(create_cq(*ctx, 256))
        , qp(create_rc_qp(*pd, *cq, *cq))
        , mem(4)
        , mr(reg_mr(*pd, mem.bytes(), all_access)) {
        std::fill(mem.bytes().begin(), mem.bytes().end(), pattern_writer);
    }

    owner_info connect(const channel& ch) {
        const auto info = ch.recv<owner_info>();
        ch.send(endpoint_of(*qp));
        connect_qp(*qp, info.ep);
        BOOST_REQUIRE(ch.recv<bool>());
        return info;
    }

    /// One signaled RDMA WRITE of a page to the owner's page `i`; its status.
    ibv_wc_status write_page(const owner_info& to, std::size_t i) {
        ibv_sge s = sge(*mr, mem.bytes().first(page));
        BOOST_REQUIRE_EQUAL(
            post(*qp, rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, to.addr + i * page, to.rkey)), 0);
        return completion_within(*cq, 10s).status;
    }

    /// Writes in a tight loop until a write fails (or `limit` passes); the number that
    /// succeeded, and the status that ended it.
    std::pair<std::size_t, ibv_wc_status> write_until_error(const owner_info& to,
                                                            std::chrono::seconds limit = 20s) {
        const auto end = std::chrono::steady_clock::now() + limit;
        std::size_t ok = 0;
        while (std::chrono::steady_clock::now() < end) {
            const ibv_wc_status st = write_page(to, ok % (to.len / page));
            if (st != IBV_WC_SUCCESS) {
                return {ok, st};
            }
            ++ok;
        }
        return {ok, IBV_WC_SUCCESS};
    }

    context_ptr ctx;
    pd_ptr pd;
    cq_ptr cq;
    qp_ptr qp;
    pages mem;
    mr_ptr mr;
};

/// A window of its own, written in a tight loop by a thread that never looks at the window's
/// state - what a buggy or hostile process would do. Only the kernel's revocation keeps these
/// writes out of the MR.
class raw_writer {
public:
    raw_writer(ibv_qp& qp, std::uint32_t rkey) {
        dibs_rdma_window_resp resp{};
        if (const int err = open_window(qp, rkey, resp)) {
            throw verbs_error("open window", err, describe(&qp));
        }
        len_ = resp.length;
        map_ = ::mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, qp.context->cmd_fd,
                      static_cast<off_t>(resp.mmap_offset));
        if (map_ == MAP_FAILED) {
            throw verbs_error("mmap", errno, "window");
        }
        thread_ = std::thread{[this] {
            auto* p = static_cast<volatile std::byte*>(map_);
            while (!stop_.load(std::memory_order_relaxed)) {
                for (std::size_t i = 0; i < len_; i += 64) {
                    p[i] =
                        pattern_writer; // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
                }
                ++rounds_;
            }
        }};
    }
    ~raw_writer() {
        stop_ = true;
        thread_.join();
        ::munmap(map_, len_);
    }
    raw_writer(const raw_writer&) = delete;
    raw_writer& operator=(const raw_writer&) = delete;
    raw_writer(raw_writer&&) = delete;
    raw_writer& operator=(raw_writer&&) = delete;

    [[nodiscard]] std::size_t rounds() const noexcept { return rounds_.load(); }

private:
    std::size_t len_ = 0;
    void* map_ = nullptr;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> rounds_{0};
    std::thread thread_;
};

bool all_are(std::span<const std::byte> bytes, std::byte v) {
    return std::all_of(bytes.begin(), bytes.end(), [v](std::byte b) { return b == v; });
}

/// The owner side of a revocation case: connects, lets the writer run, then `revoke()`s,
/// writes the canary over its buffer and checks that it stays for a while.
bool owner_revokes(const channel& ch, std::string_view dev,
                   const std::function<void(owner_end&)>& revoke) {
    const pages mem{8};
    owner_end o{dev, mem.bytes(), all_access};
    o.connect(ch, mem.bytes());
    (void)ch.recv<bool>(); // the writer is in its loop, through the window
    std::this_thread::sleep_for(100ms);
    revoke(o);
    std::fill(mem.bytes().begin(), mem.bytes().end(), pattern_canary);
    std::this_thread::sleep_for(500ms);
    const bool intact = all_are(mem.bytes(), pattern_canary);
    ch.send(intact);
    return intact;
}

/// The writer side: connect, check that the window is used, write until an error, while a
/// raw_writer keeps writing through a window of its own.
void writer_sees_revocation(child& owner, std::string_view dev) {
    writer_end w{dev};
    const owner_info to = w.connect(owner.ch());
    BOOST_TEST_REQUIRE(name(w.write_page(to, 0)) == name(IBV_WC_SUCCESS));
    BOOST_TEST_REQUIRE(window_mappings() == 1U, "the write went through a window");
    const raw_writer raw{*w.qp, to.rkey};
    owner.ch().send(true);
    const auto [ok, st] = w.write_until_error(to);
    BOOST_TEST_MESSAGE("writes before the revocation: " << ok << ", then " << name(st));
    BOOST_TEST(name(st) != name(IBV_WC_SUCCESS), "the writer gets an error completion");
    BOOST_TEST(owner.ch().recv<bool>(), "the canary after the revocation is intact");
    BOOST_TEST_MESSAGE("raw writes through the window: " << raw.rounds() << " rounds");
    BOOST_TEST(raw.rounds() > 0U);
    BOOST_TEST(owner.wait() == 0);
}

// ---- cases ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(windows)

BOOST_FIXTURE_TEST_CASE(data, lo0_device) {
    const pages lmem{8};
    const pages rmem{8};
    auto lmr = reg_mr(*pd, lmem.bytes(), all_access);
    auto rmr = reg_mr(*pd, rmem.bytes(), all_access);
    auto cq = create_cq(*ctx, 64);
    auto qa = create_rc_qp(*pd, *cq, *cq);
    auto qb = create_rc_qp(*pd, *cq, *cq);
    connect_qp(*qa, endpoint_of(*qb));
    connect_qp(*qb, endpoint_of(*qa));
    fill_random(lmem.bytes());
    fill_random(rmem.bytes());
    const std::vector<std::byte> before{rmem.bytes().begin(), rmem.bytes().end()};

    // WRITE of two SGEs, crossing a page boundary of the target
    std::array<ibv_sge, 2> sges{sge(*lmr, lmem.bytes().subspan(100, 3000)),
                                sge(*lmr, lmem.bytes().subspan(5000, 2000))};
    (void)post_and_complete(
        *qa, *cq,
        rdma_wr(IBV_WR_RDMA_WRITE, sges, addr_of(rmem.bytes().data()) + 3 * page - 500, rmr->rkey),
        IBV_WC_SUCCESS);
    BOOST_TEST(window_mappings() == 1U);
    std::vector<std::byte> want = before;
    std::copy_n(lmem.bytes().begin() + 100, 3000, want.begin() + 3 * page - 500);
    std::copy_n(lmem.bytes().begin() + 5000, 2000, want.begin() + 3 * page - 500 + 3000);
    check_bytes(rmem.bytes(), want, "target of a WRITE through the window");

    // READ back into the local buffer
    ibv_sge rs = sge(*lmr, lmem.bytes().subspan(6 * page, 5000));
    (void)post_and_complete(
        *qa, *cq,
        rdma_wr(IBV_WR_RDMA_READ, {&rs, 1}, addr_of(rmem.bytes().data()) + page + 7, rmr->rkey),
        IBV_WC_SUCCESS);
    check_bytes(lmem.bytes().subspan(6 * page, 5000), rmem.bytes().subspan(page + 7, 5000),
                "READ through the window");

    // both atomics, on an 8-byte word of the target
    std::uint64_t word = 40;
    std::memcpy(rmem.bytes().data() + 2 * page, &word, sizeof(word));
    ibv_sge as = sge(*lmr, lmem.bytes().subspan(0, 8));
    const std::uint64_t target = addr_of(rmem.bytes().data()) + 2 * page;
    (void)post_and_complete(*qa, *cq,
                            atomic_wr(IBV_WR_ATOMIC_FETCH_AND_ADD, as, target, rmr->rkey, 2, 0),
                            IBV_WC_SUCCESS);
    std::uint64_t orig = 0;
    std::memcpy(&orig, lmem.bytes().data(), sizeof(orig));
    BOOST_TEST(orig == 40U);
    (void)post_and_complete(*qa, *cq,
                            atomic_wr(IBV_WR_ATOMIC_CMP_AND_SWP, as, target, rmr->rkey, 42, 7),
                            IBV_WC_SUCCESS);
    std::memcpy(&orig, lmem.bytes().data(), sizeof(orig));
    std::memcpy(&word, rmem.bytes().data() + 2 * page, sizeof(word));
    BOOST_TEST(orig == 42U);
    BOOST_TEST(word == 7U);

    // a write-only MR gets no window, and the write still lands (through the kernel)
    const pages wmem{2};
    auto wmr = reg_mr(*pd, wmem.bytes(), access::local_write | access::remote_write);
    ibv_sge ws = sge(*lmr, lmem.bytes().subspan(0, 64));
    (void)post_and_complete(
        *qa, *cq, rdma_wr(IBV_WR_RDMA_WRITE, {&ws, 1}, addr_of(wmem.bytes().data()), wmr->rkey),
        IBV_WC_SUCCESS);
    check_bytes(wmem.bytes().first(64), lmem.bytes().first(64), "target of a write-only MR");
    BOOST_TEST(window_mappings() == 1U, "no window onto a write-only MR");
    dibs_rdma_window_resp resp{};
    BOOST_TEST(open_window(*qa, wmr->rkey, resp) == EACCES);

    // past the end of the MR: the kernel's error, and the QP goes to the error state
    (void)post_and_complete(*qa, *cq,
                            rdma_wr(IBV_WR_RDMA_WRITE, {&ws, 1},
                                    addr_of(rmem.bytes().data()) + 8 * page - 32, rmr->rkey),
                            IBV_WC_REM_ACCESS_ERR);
    BOOST_TEST(name(query_qp_state(*qa)) == name(IBV_QPS_ERR));
    BOOST_TEST(open_window(*qa, rmr->rkey, resp) == EINVAL, "no window for a QP in error");
}

BOOST_AUTO_TEST_CASE(revoke_dereg) {
    child owner{[](const channel& ch) {
        return owner_revokes(ch, lo0, [](owner_end& o) { o.mr.reset(); });
    }};
    writer_sees_revocation(owner, lo0);
}

BOOST_AUTO_TEST_CASE(revoke_qp_destroy) {
    child owner{[](const channel& ch) {
        return owner_revokes(ch, lo0, [](owner_end& o) { o.qp.reset(); });
    }};
    writer_sees_revocation(owner, lo0);
}

BOOST_AUTO_TEST_CASE(revoke_owner_killed) {
    child owner{[](const channel& ch) {
        const pages mem{8};
        owner_end o{lo0, mem.bytes(), all_access};
        o.connect(ch, mem.bytes());
        (void)ch.recv<bool>();
        for (;;) {
            std::this_thread::sleep_for(1s); // until killed
        }
        return false;
    }};
    writer_end w{lo0};
    const owner_info to = w.connect(owner.ch());
    BOOST_TEST_REQUIRE(name(w.write_page(to, 0)) == name(IBV_WC_SUCCESS));
    BOOST_TEST_REQUIRE(window_mappings() == 1U);
    const raw_writer raw{*w.qp, to.rkey};
    owner.ch().send(true);

    std::atomic<bool> killed{false};
    std::thread killer{[&] {
        std::this_thread::sleep_for(100ms);
        owner.kill(SIGKILL);
        killed = true;
    }};
    const auto [ok, st] = w.write_until_error(to);
    killer.join();
    BOOST_TEST_MESSAGE("writes before the kill: " << ok << ", then " << name(st));
    BOOST_TEST(killed.load());
    BOOST_TEST(name(st) != name(IBV_WC_SUCCESS));
    BOOST_TEST(WIFSIGNALED(owner.wait()));

    // The owner's pages are free: a third process takes a lot of memory, fills it with the
    // canary, and checks it while the writer keeps trying.
    child reuser{[](const channel& ch) {
        const pages mem{16384}; // 64 MiB
        std::fill(mem.bytes().begin(), mem.bytes().end(), pattern_canary);
        ch.send(true);
        (void)ch.recv<bool>();
        return all_are(mem.bytes(), pattern_canary);
    }};
    BOOST_TEST_REQUIRE(reuser.ch().recv<bool>());
    for (int i = 0; i < 50; ++i) {
        ibv_sge s = sge(*w.mr, w.mem.bytes().first(page));
        if (post(*w.qp, rdma_wr(IBV_WR_RDMA_WRITE, {&s, 1}, to.addr, to.rkey)) == 0) {
            BOOST_TEST(name(completion_within(*w.cq, 10s).status) != name(IBV_WC_SUCCESS));
        }
    }
    reuser.ch().send(true);
    BOOST_TEST(reuser.wait() == 0, "the canary in reused memory is intact");
}

BOOST_AUTO_TEST_CASE(revoke_device_removed, *utf::precondition(devices_present{{lo1, lo2}})) {
    // the owner on dibs_lo2, the writer on dibs_lo1 (fabric 0x10): dibs_lo2 goes away
    child owner{[](const channel& ch) {
        return owner_revokes(ch, lo2, [](owner_end& /*o*/) {
            if (const int err = write_sysfs("/sys/kernel/dibs_loopback/del_device", "dibs_lo2")) {
                throw verbs_error("write", err, "/sys/kernel/dibs_loopback/del_device");
            }
        });
    }};
    writer_sees_revocation(owner, lo1);
    BOOST_TEST(write_sysfs("/sys/kernel/dibs_loopback/new_device", "2 0x10") == 0);
    for (int i = 0; i < 100 && !devices_present{{lo2}}(0); ++i) {
        std::this_thread::sleep_for(100ms);
    }
}

BOOST_AUTO_TEST_CASE(fork_fd) {
    // the owner keeps an MR that allows only reading
    child owner{[](const channel& ch) {
        const pages mem{4};
        std::fill(mem.bytes().begin(), mem.bytes().end(), pattern_canary);
        owner_end o{lo0, mem.bytes(), access::remote_read};
        o.connect(ch, mem.bytes());
        (void)ch.recv<bool>();
        o.mr.reset(); // revoke
        ch.send(true);
        (void)ch.recv<bool>();
        return true;
    }};
    writer_end w{lo0};
    const owner_info to = w.connect(owner.ch());
    dibs_rdma_window_resp resp{};
    BOOST_TEST_REQUIRE(open_window(*w.qp, to.rkey, resp) == 0);
    BOOST_TEST(resp.access == static_cast<unsigned>(IBV_ACCESS_REMOTE_READ));
    const int fd = w.ctx->cmd_fd;
    BOOST_TEST(try_mmap(fd, resp.mmap_offset, resp.length, PROT_READ | PROT_WRITE) == EACCES,
               "no writable mapping of a read-only window");
    void* p = ::mmap(nullptr, resp.length, PROT_READ, MAP_SHARED, fd,
                     static_cast<off_t>(resp.mmap_offset));
    BOOST_TEST_REQUIRE(p != MAP_FAILED);
    const std::span<const std::byte> win{static_cast<const std::byte*>(p), resp.length};
    BOOST_TEST(all_are(win, pattern_canary), "the window shows the owner's MR");
    BOOST_TEST(::mprotect(p, resp.length, PROT_READ | PROT_WRITE) != 0,
               "mprotect cannot make it writable");

    // a child of fork() has no window: touching it kills the child with SIGSEGV
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::signal(SIGSEGV, SIG_DFL); // not Boost.Test's handler
        volatile std::byte b = win[0];
        (void)b;
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV));

    // a process that holds the uverbs file (here inherited) maps the window of that file's
    // context, and loses it with the owner's revocation
    child holder{[&](const channel& ch) {
        void* q = ::mmap(nullptr, resp.length, PROT_READ, MAP_SHARED, fd,
                         static_cast<off_t>(resp.mmap_offset));
        if (q == MAP_FAILED) {
            return false;
        }
        const std::span<const std::byte> hw{static_cast<const std::byte*>(q), resp.length};
        const bool before = all_are(hw, pattern_canary);
        ch.send(true);
        (void)ch.recv<bool>();                        // revoked
        const bool after = all_are(hw, std::byte{0}); // the sink, not the MR
        return before && after;
    }};
    BOOST_TEST_REQUIRE(holder.ch().recv<bool>());
    owner.ch().send(true);
    BOOST_TEST_REQUIRE(owner.ch().recv<bool>());
    BOOST_TEST(all_are(win, std::byte{0}), "a revoked window reads the sink page");
    holder.ch().send(true);
    BOOST_TEST(holder.wait() == 0);
    BOOST_TEST(try_mmap(fd, resp.mmap_offset, page, PROT_READ) == EINVAL, "stale window");
    ::munmap(p, resp.length);
    owner.ch().send(true);
    BOOST_TEST(owner.wait() == 0);
}

BOOST_FIXTURE_TEST_CASE(bad_input, lo0_device) {
    const pages mem{4};
    auto mr = reg_mr(*pd, mem.bytes(), all_access);
    const pages small{1};
    auto cq = create_cq(*ctx, 16);
    auto qa = create_rc_qp(*pd, *cq, *cq);
    auto qb = create_rc_qp(*pd, *cq, *cq);
    dibs_rdma_window_resp resp{};
    const int fd = ctx->cmd_fd;

    BOOST_TEST(open_window(*qa, mr->rkey, resp) == EINVAL, "QP not in RTS");
    connect_qp(*qa, endpoint_of(*qb));
    BOOST_TEST(open_window(*qa, mr->rkey, resp) == ENOTCONN, "peer QP not connected back");
    connect_qp(*qb, endpoint_of(*qa));
    BOOST_TEST(open_window(fd, 0xdead, mr->rkey, resp) != 0, "no such QP handle");
    BOOST_TEST(open_window(*qa, 0x7fffffff, resp) == EACCES, "no such rkey");
    auto pd2 = alloc_pd(*ctx);
    auto mr2 = reg_mr(*pd2, mem.bytes(), all_access);
    BOOST_TEST(open_window(*qa, mr2->rkey, resp) == EACCES, "MR of another PD");
    auto mr_small = reg_mr(*pd, small.bytes().subspan(8, 1000), all_access);
    BOOST_TEST(open_window(*qa, mr_small->rkey, resp) == ERANGE, "no whole page");
    BOOST_TEST(open_window(fd, qa->handle, mr->rkey, resp, sizeof(resp) - 8) != 0,
               "response buffer too small");

    BOOST_TEST_REQUIRE(open_window(*qa, mr->rkey, resp) == 0);
    BOOST_TEST(resp.length == mem.bytes().size());
    BOOST_TEST(resp.iova == addr_of(mem.bytes().data()));
    BOOST_TEST(try_mmap(fd, resp.mmap_offset, resp.length, PROT_READ | PROT_WRITE) == 0);
    BOOST_TEST(try_mmap(fd, resp.mmap_offset, resp.length + page, PROT_READ) == EINVAL,
               "past the window's end");
    BOOST_TEST(try_mmap(fd, resp.mmap_offset + resp.length, page, PROT_READ) == EINVAL,
               "behind the window's data");
    BOOST_TEST(try_mmap(fd, resp.mmap_offset, page, PROT_READ, MAP_PRIVATE) == EINVAL,
               "MAP_PRIVATE");
    BOOST_TEST(try_mmap(fd, resp.state_offset, page, PROT_READ) == 0);
    BOOST_TEST(try_mmap(fd, resp.state_offset, page, PROT_READ | PROT_WRITE) == EACCES,
               "writable state page");
    BOOST_TEST(try_mmap(fd, resp.state_offset, 2 * page, PROT_READ) == EINVAL,
               "state page too long");
    BOOST_TEST(try_mmap(fd, (std::uint64_t{1} << 40) * page, page, PROT_READ) == EINVAL,
               "window id 0");
    BOOST_TEST(try_mmap(fd, resp.mmap_offset + (std::uint64_t{1} << 35) * page, page, PROT_READ) ==
                   EINVAL,
               "no such window");

    // another context of the same device: a foreign window
    auto other = open_device(lo0);
    BOOST_TEST(try_mmap(other->cmd_fd, resp.mmap_offset, page, PROT_READ) == EACCES,
               "a window of another context");

    // DIBS_RDMA_MAX_WINDOWS per QP
    std::vector<mr_ptr> mrs;
    int err = 0;
    for (int i = 0; i < DIBS_RDMA_MAX_WINDOWS + 1 && err == 0; ++i) {
        mrs.push_back(reg_mr(*pd, mem.bytes(), all_access));
        dibs_rdma_window_resp r{};
        err = open_window(*qa, mrs.back()->rkey, r);
    }
    BOOST_TEST(err == ENOSPC);

    // a modify revokes: the offset is stale
    qp_to_reset(*qa);
    BOOST_TEST(try_mmap(fd, resp.mmap_offset, page, PROT_READ) == EINVAL, "revoked window");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace dibs::conformance

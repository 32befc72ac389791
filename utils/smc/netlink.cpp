// SPDX-License-Identifier: GPL-2.0
#include "netlink.hpp"

#include <array>
#include <cerrno>
#include <exception>
#include <utility>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

namespace dibs::smc::nl {
namespace {

/// The request buffer: a generic netlink command or a diag request is far smaller.
constexpr std::size_t request_size = 4096;

const std::byte* bytes_of(const void* p) noexcept {
    return static_cast<const std::byte*>(p);
}

std::string malformed(std::string_view what, std::span<const std::byte> rest) {
    if (rest.size() >= sizeof(std::uint32_t)) {
        const auto len = read_struct<std::uint16_t>(rest);
        const auto type = read_struct<std::uint16_t>(rest.subspan(2));
        return "malformed netlink " + std::string{what} + " (type " + std::to_string(type) +
               ", length " + std::to_string(len) + ", " + std::to_string(rest.size()) +
               " bytes left)";
    }
    return "malformed netlink " + std::string{what} + ": " + std::to_string(rest.size()) +
           " trailing bytes";
}

message to_message(const nlmsghdr* nlh) noexcept {
    return {nlh->nlmsg_type, nlh->nlmsg_flags, nlh->nlmsg_seq, nlh->nlmsg_pid,
            std::span{bytes_of(mnl_nlmsg_get_payload(nlh)),
                      nlh->nlmsg_len - static_cast<std::size_t>(MNL_NLMSG_HDRLEN)}};
}

} // namespace

// ---- parsing -------------------------------------------------------------------------------

attribute_set::attribute_set(std::span<const std::byte> data) {
    struct state {
        attribute_set* self;
        const std::byte* base;
        std::size_t consumed;
    } st{this, data.data(), 0};
    const auto collect = [](const nlattr* a, void* arg) -> int {
        auto& s = *static_cast<state*>(arg);
        s.self->attrs_.push_back({mnl_attr_get_type(a), std::span{bytes_of(mnl_attr_get_payload(a)),
                                                                  mnl_attr_get_payload_len(a)}});
        s.consumed = static_cast<std::size_t>(bytes_of(a) - s.base) + MNL_ALIGN(a->nla_len);
        return MNL_CB_OK;
    };
    if (!data.empty()) {
        (void)mnl_attr_parse_payload(data.data(), data.size(), collect, &st);
    }
    // mnl_attr_ok() ends the walk at the first attribute that does not fit: all must.
    st.consumed = std::min(st.consumed, data.size());
    if (st.consumed != data.size()) {
        throw error(malformed("attribute", data.subspan(st.consumed)));
    }
}

std::optional<std::span<const std::byte>> attribute_set::get(std::uint16_t type) const noexcept {
    for (const auto& a : attrs_) {
        if (a.type == type) {
            return a.payload;
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> attribute_set::uint(std::uint16_t type) const {
    const auto p = get(type);
    if (!p) {
        return std::nullopt;
    }
    switch (p->size()) {
    case 1:
        return read_struct<std::uint8_t>(*p);
    case 2:
        return read_struct<std::uint16_t>(*p);
    case 4:
        return read_struct<std::uint32_t>(*p);
    case 8:
        return read_struct<std::uint64_t>(*p);
    default:
        throw error("netlink attribute " + std::to_string(type) + ": integer of " +
                    std::to_string(p->size()) + " bytes");
    }
}

std::optional<std::string> attribute_set::string(std::uint16_t type) const {
    const auto p = get(type);
    if (!p) {
        return std::nullopt;
    }
    std::string text(p->size(), '\0');
    std::memcpy(text.data(), p->data(), p->size());
    text.resize(std::min(text.size(), text.find('\0')));
    return text;
}

std::optional<attribute_set> attribute_set::nested(std::uint16_t type) const {
    const auto p = get(type);
    if (!p) {
        return std::nullopt;
    }
    return attribute_set{*p};
}

std::vector<message> split_messages(std::span<const std::byte> data) {
    std::vector<message> messages;
    int left = static_cast<int>(data.size());
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(data.data());
    while (mnl_nlmsg_ok(nlh, left)) {
        messages.push_back(to_message(nlh));
        nlh = mnl_nlmsg_next(nlh, &left);
    }
    if (left > 0) {
        throw error(malformed("message", data.last(static_cast<std::size_t>(left))));
    }
    return messages;
}

nl_error_info parse_error(const message& msg) {
    if (msg.payload.size() < sizeof(nlmsgerr)) {
        throw error("truncated netlink error message (" + std::to_string(msg.payload.size()) +
                    " bytes)");
    }
    const auto err = read_struct<nlmsgerr>(msg.payload);
    nl_error_info info{-err.error, {}};
    if ((msg.flags & NLM_F_ACK_TLVS) == 0) {
        return info;
    }
    // The TLVs follow the echoed request: only its header if the kernel capped it.
    std::size_t offset = sizeof(nlmsgerr);
    if ((msg.flags & NLM_F_CAPPED) == 0) {
        offset += MNL_ALIGN(err.msg.nlmsg_len) - sizeof(nlmsghdr);
    }
    if (offset < msg.payload.size()) {
        try {
            const attribute_set tlvs(msg.payload.subspan(offset));
            info.ext_message = tlvs.string(NLMSGERR_ATTR_MSG).value_or("");
        } catch (const error&) {
            // a malformed extended ACK only loses the kernel's message
        }
    }
    return info;
}

// ---- building ------------------------------------------------------------------------------

request::request(std::uint16_t type, std::uint16_t flags) : buf_(request_size) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf_.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST);
}

nlmsghdr* request::header() const noexcept {
    // buf_ is never resized: the header stays where mnl_nlmsg_put_header() put it.
    return reinterpret_cast<nlmsghdr*>(const_cast<std::byte*>(buf_.data()));
}

void request::reserve(std::size_t bytes) const {
    if (header()->nlmsg_len + MNL_ALIGN(bytes) > buf_.size()) {
        throw error("netlink request of type " + std::to_string(type()) + " exceeds " +
                    std::to_string(buf_.size()) + " bytes");
    }
}

void request::append(std::span<const std::byte> bytes) {
    reserve(bytes.size());
    void* extra = mnl_nlmsg_put_extra_header(header(), bytes.size());
    std::memcpy(extra, bytes.data(), bytes.size());
}

void request::add_attribute(std::uint16_t type, std::span<const std::byte> payload) {
    if (!mnl_attr_put_check(header(), buf_.size(), type, payload.size(), payload.data())) {
        throw error("netlink attribute " + std::to_string(type) + " of " +
                    std::to_string(payload.size()) + " bytes does not fit the request");
    }
}

void request::add_string(std::uint16_t type, std::string_view text) {
    std::vector<std::byte> payload(text.size() + 1);
    std::memcpy(payload.data(), text.data(), text.size());
    add_attribute(type, payload);
}

std::span<const std::byte> request::finish(std::uint32_t seq) {
    header()->nlmsg_seq = seq;
    return std::span{buf_}.first(header()->nlmsg_len);
}

// ---- the socket ----------------------------------------------------------------------------

void mnl_socket_close_fn::operator()(mnl_socket* sock) const noexcept {
    (void)mnl_socket_close(sock);
}

socket::socket(int bus, std::string what)
    : sock_(mnl_socket_open2(bus, SOCK_CLOEXEC))
    , what_(std::move(what)) {
    if (!sock_) {
        const int e = errno;
        throw error(what_ + ": cannot open a netlink socket: " + tools::errno_text(e), what_, e);
    }
    if (mnl_socket_bind(sock_.get(), 0, MNL_SOCKET_AUTOPID) != 0) {
        const int e = errno;
        throw error(what_ + ": cannot bind the netlink socket: " + tools::errno_text(e), what_, e);
    }
    // Best effort: the kernel's error text (extended ACK), and no echoed request in errors.
    int on = 1;
    (void)mnl_socket_setsockopt(sock_.get(), NETLINK_EXT_ACK, &on, sizeof(on));
    (void)mnl_socket_setsockopt(sock_.get(), NETLINK_CAP_ACK, &on, sizeof(on));
}

namespace {

/// What the libmnl callbacks of one transact() share. They run inside C code: exceptions are
/// caught there and rethrown after mnl_cb_run2() returns.
struct run_state {
    const message_handler* on_reply;
    std::exception_ptr failure;
    std::optional<nl_error_info> nl_error;
    int done_error = 0;
};

int on_data(const nlmsghdr* nlh, void* arg) {
    auto& st = *static_cast<run_state*>(arg);
    try {
        if (*st.on_reply) {
            (*st.on_reply)(to_message(nlh));
        }
        return MNL_CB_OK;
    } catch (...) {
        st.failure = std::current_exception();
        return MNL_CB_ERROR;
    }
}

int on_error(const nlmsghdr* nlh, void* arg) {
    auto& st = *static_cast<run_state*>(arg);
    try {
        auto info = parse_error(to_message(nlh));
        if (info.error == 0) {
            return MNL_CB_STOP; // ACK
        }
        st.nl_error = std::move(info);
    } catch (...) {
        st.failure = std::current_exception();
    }
    return MNL_CB_ERROR;
}

int on_done(const nlmsghdr* nlh, void* arg) {
    auto& st = *static_cast<run_state*>(arg);
    const auto msg = to_message(nlh);
    const int rc = msg.payload.size() >= sizeof(int) ? read_struct<int>(msg.payload) : 0;
    if (rc < 0) {
        st.done_error = -rc;
        return MNL_CB_ERROR;
    }
    return MNL_CB_STOP;
}

int on_noop(const nlmsghdr* /*nlh*/, void* /*arg*/) {
    return MNL_CB_OK;
}

} // namespace

void socket::transact(request& req, std::string_view context, const message_handler& on_reply) {
    const bool dump = (req.flags() & NLM_F_DUMP) == NLM_F_DUMP;
    if (!dump) {
        req.set_flags(static_cast<std::uint16_t>(req.flags() | NLM_F_ACK));
    }
    const std::uint32_t seq = ++seq_;
    const auto bytes = req.finish(seq);
    const std::string ctx{context};

    ssize_t sent = 0;
    do {
        sent = mnl_socket_sendto(sock_.get(), bytes.data(), bytes.size());
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        const int e = errno;
        throw error(ctx + ": cannot send to " + what_ + ": " + tools::errno_text(e), what_, e);
    }

    std::array<mnl_cb_t, NLMSG_MIN_TYPE> control{};
    control[NLMSG_NOOP] = on_noop;
    control[NLMSG_ERROR] = on_error;
    control[NLMSG_DONE] = on_done;
    const unsigned portid = mnl_socket_get_portid(sock_.get());
    const int fd = mnl_socket_get_fd(sock_.get());
    for (;;) {
        // Peek at the datagram's size first: a dump part can exceed any fixed buffer.
        ssize_t len = 0;
        do {
            len = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC);
        } while (len < 0 && errno == EINTR);
        if (len >= 0) {
            buf_.resize(std::max<std::size_t>(static_cast<std::size_t>(len), 4096));
            do {
                len = mnl_socket_recvfrom(sock_.get(), buf_.data(), buf_.size());
            } while (len < 0 && errno == EINTR);
        }
        if (len < 0) {
            const int e = errno;
            throw error(ctx + ": cannot receive from " + what_ + ": " + tools::errno_text(e), what_,
                        e);
        }
        if (len == 0) {
            throw error(ctx + ": " + what_ + " closed the connection", what_);
        }
        run_state st{&on_reply, {}, {}, 0};
        const int rc = mnl_cb_run2(buf_.data(), static_cast<std::size_t>(len), seq, portid, on_data,
                                   &st, control.data(), control.size());
        const int e = errno;
        if (st.failure) {
            std::rethrow_exception(st.failure);
        }
        if (st.nl_error) {
            std::string text = ctx + ": " + tools::errno_text(st.nl_error->error);
            if (!st.nl_error->ext_message.empty()) {
                text += ": " + st.nl_error->ext_message;
            }
            throw error(text, what_, st.nl_error->error);
        }
        if (st.done_error != 0) {
            throw error(ctx + ": " + tools::errno_text(st.done_error), what_, st.done_error);
        }
        if (rc == MNL_CB_ERROR) {
            // libmnl's own checks: sequence (EPROTO), port id (ESRCH), interrupted dump (EINTR)
            throw error(ctx + ": bad reply from " + what_ + ": " + tools::errno_text(e), what_, e);
        }
        if (rc == MNL_CB_STOP) {
            return;
        }
    }
}

// ---- generic netlink -----------------------------------------------------------------------

attribute_set genl_attributes(const message& msg) {
    if (msg.payload.size() < GENL_HDRLEN) {
        throw error("truncated generic netlink message (" + std::to_string(msg.payload.size()) +
                    " bytes)");
    }
    return attribute_set{msg.payload.subspan(GENL_HDRLEN)};
}

genl_family::genl_family(std::string_view name, std::string_view missing_hint)
    : sock_(NETLINK_GENERIC, "generic netlink")
    , name_(name) {
    request req(GENL_ID_CTRL, 0);
    genlmsghdr genl{};
    genl.cmd = CTRL_CMD_GETFAMILY;
    genl.version = 1;
    req.append_struct(genl);
    req.add_string(CTRL_ATTR_FAMILY_NAME, name);
    try {
        sock_.transact(req, "generic netlink family " + name_, [this](const message& msg) {
            const auto attrs = genl_attributes(msg);
            if (const auto id = attrs.uint(CTRL_ATTR_FAMILY_ID)) {
                id_ = static_cast<std::uint16_t>(*id);
            }
            if (const auto version = attrs.uint(CTRL_ATTR_VERSION)) {
                version_ = static_cast<std::uint8_t>(*version);
            }
        });
    } catch (const error& e) {
        if (e.errnum() == ENOENT) {
            throw error("generic netlink family " + name_ + " not found - " +
                            std::string{missing_hint},
                        name_, ENOENT);
        }
        throw;
    }
    if (id_ == 0) {
        throw error("generic netlink family " + name_ + ": no family id in the kernel's reply",
                    name_);
    }
}

request genl_family::make_request(std::uint8_t cmd, bool dump) const {
    request req(id_, dump ? NLM_F_DUMP : 0);
    genlmsghdr genl{};
    genl.cmd = cmd;
    genl.version = version_;
    req.append_struct(genl);
    return req;
}

void genl_family::transact(request& req, std::string_view context,
                           const std::function<void(const attribute_set&)>& on_reply) {
    sock_.transact(req, context, [&](const message& msg) {
        if (msg.type == id_ && on_reply) {
            on_reply(genl_attributes(msg));
        }
    });
}

void genl_family::dump(std::uint8_t cmd, std::string_view context,
                       const std::function<void(const attribute_set&)>& on_reply) {
    auto req = make_request(cmd, true);
    transact(req, context, on_reply);
}

} // namespace dibs::smc::nl

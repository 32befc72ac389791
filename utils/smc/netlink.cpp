// SPDX-License-Identifier: GPL-2.0
#include "netlink.hpp"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dibs::smc::nl {
namespace {

constexpr std::size_t align4(std::size_t n) noexcept {
    return (n + 3U) & ~std::size_t{3};
}

template <typename T>
T read_at(std::span<const std::byte> bytes, std::size_t offset) noexcept {
    return read_struct<T>(bytes.subspan(offset));
}

} // namespace

// ---- parsing -------------------------------------------------------------------------------

attribute_set::attribute_set(std::span<const std::byte> data) {
    std::size_t pos = 0;
    while (data.size() - pos >= sizeof(nlattr)) {
        const auto hdr = read_at<nlattr>(data, pos);
        if (hdr.nla_len < sizeof(nlattr) || hdr.nla_len > data.size() - pos) {
            throw error("malformed netlink attribute (type " + std::to_string(hdr.nla_type) +
                        ", length " + std::to_string(hdr.nla_len) + ", " +
                        std::to_string(data.size() - pos) + " bytes left)");
        }
        attrs_.push_back({static_cast<std::uint16_t>(hdr.nla_type & NLA_TYPE_MASK),
                          data.subspan(pos + NLA_HDRLEN, hdr.nla_len - NLA_HDRLEN)});
        pos = std::min(data.size(), pos + align4(hdr.nla_len));
    }
    if (pos != data.size()) {
        throw error("malformed netlink attribute: " + std::to_string(data.size() - pos) +
                    " trailing bytes");
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
    std::size_t pos = 0;
    while (pos < data.size()) {
        if (data.size() - pos < sizeof(nlmsghdr)) {
            throw error("malformed netlink message: " + std::to_string(data.size() - pos) +
                        " trailing bytes");
        }
        const auto hdr = read_at<nlmsghdr>(data, pos);
        if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > data.size() - pos) {
            throw error("malformed netlink message (type " + std::to_string(hdr.nlmsg_type) +
                        ", length " + std::to_string(hdr.nlmsg_len) + ", " +
                        std::to_string(data.size() - pos) + " bytes left)");
        }
        messages.push_back({hdr.nlmsg_type, hdr.nlmsg_flags, hdr.nlmsg_seq, hdr.nlmsg_pid,
                            data.subspan(pos + NLMSG_HDRLEN, hdr.nlmsg_len - NLMSG_HDRLEN)});
        pos = std::min(data.size(), pos + NLMSG_ALIGN(hdr.nlmsg_len));
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
        offset += NLMSG_ALIGN(err.msg.nlmsg_len) - sizeof(nlmsghdr);
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

request::request(std::uint16_t type, std::uint16_t flags) : buf_(NLMSG_HDRLEN) {
    nlmsghdr hdr{};
    hdr.nlmsg_type = type;
    hdr.nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST);
    std::memcpy(buf_.data(), &hdr, sizeof(hdr));
}

void request::append(std::span<const std::byte> bytes) {
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
    buf_.resize(align4(buf_.size()));
}

void request::add_attribute(std::uint16_t type, std::span<const std::byte> payload) {
    nlattr hdr{};
    hdr.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + payload.size());
    hdr.nla_type = type;
    append(std::as_bytes(std::span{&hdr, 1}));
    append(payload);
}

void request::add_string(std::uint16_t type, std::string_view text) {
    std::vector<std::byte> payload(text.size() + 1);
    std::memcpy(payload.data(), text.data(), text.size());
    add_attribute(type, payload);
}

std::uint16_t request::type() const noexcept {
    return read_struct<nlmsghdr>(buf_).nlmsg_type;
}

std::uint16_t request::flags() const noexcept {
    return read_struct<nlmsghdr>(buf_).nlmsg_flags;
}

void request::set_flags(std::uint16_t flags) noexcept {
    auto hdr = read_struct<nlmsghdr>(buf_);
    hdr.nlmsg_flags = flags;
    std::memcpy(buf_.data(), &hdr, sizeof(hdr));
}

std::span<const std::byte> request::finish(std::uint32_t seq) {
    auto hdr = read_struct<nlmsghdr>(buf_);
    hdr.nlmsg_len = static_cast<std::uint32_t>(buf_.size());
    hdr.nlmsg_seq = seq;
    std::memcpy(buf_.data(), &hdr, sizeof(hdr));
    return buf_;
}

// ---- the socket ----------------------------------------------------------------------------

socket::socket(int protocol, std::string what)
    : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol))
    , what_(std::move(what)) {
    if (!fd_) {
        const int e = errno;
        throw error(what_ + ": cannot open a netlink socket: " + tools::errno_text(e), what_, e);
    }
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
        const int e = errno;
        throw error(what_ + ": cannot bind the netlink socket: " + tools::errno_text(e), what_, e);
    }
    // Best effort: the kernel's error text (extended ACK), and no echoed request in errors.
    const int on = 1;
    (void)::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof(on));
    (void)::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof(on));
}

void socket::transact(request& req, std::string_view context, const message_handler& on_reply) {
    const bool dump = (req.flags() & NLM_F_DUMP) == NLM_F_DUMP;
    if (!dump) {
        req.set_flags(static_cast<std::uint16_t>(req.flags() | NLM_F_ACK));
    }
    const std::uint32_t seq = ++seq_;
    const auto bytes = req.finish(seq);
    const std::string ctx{context};

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent = 0;
    do {
        sent = ::sendto(fd_.get(), bytes.data(), bytes.size(), 0,
                        reinterpret_cast<const sockaddr*>(&kernel), sizeof(kernel));
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        const int e = errno;
        throw error(ctx + ": cannot send to " + what_ + ": " + tools::errno_text(e), what_, e);
    }

    for (;;) {
        // Peek at the datagram's size first: a dump part can exceed any fixed buffer.
        ssize_t len = 0;
        do {
            len = ::recv(fd_.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC);
        } while (len < 0 && errno == EINTR);
        if (len >= 0) {
            buf_.resize(std::max<std::size_t>(static_cast<std::size_t>(len), 4096));
            do {
                len = ::recv(fd_.get(), buf_.data(), buf_.size(), 0);
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
        for (const auto& msg :
             split_messages(std::span{buf_}.first(static_cast<std::size_t>(len)))) {
            if (msg.seq != seq) {
                continue; // a stale reply of an earlier request
            }
            if (msg.type == NLMSG_ERROR) {
                const auto err = parse_error(msg);
                if (err.error == 0) {
                    return; // ACK
                }
                std::string text = ctx + ": " + tools::errno_text(err.error);
                if (!err.ext_message.empty()) {
                    text += ": " + err.ext_message;
                }
                throw error(text, what_, err.error);
            }
            if (msg.type == NLMSG_DONE) {
                const int rc =
                    msg.payload.size() >= sizeof(int) ? read_struct<int>(msg.payload) : 0;
                if (rc < 0) {
                    throw error(ctx + ": " + tools::errno_text(-rc), what_, -rc);
                }
                return;
            }
            if (on_reply) {
                on_reply(msg);
            }
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

// SPDX-License-Identifier: GPL-2.0
//
// Netlink for the SMC tools over libmnl (as iproute2 does): an RAII owner of struct mnl_socket
// that sends one request and collects the replies (a dump up to NLMSG_DONE, or a command up to
// its ACK), attributes parsed with libmnl's validation into std::span views, requests built with
// mnl_nlmsg_put_header()/mnl_attr_put(), and generic netlink families resolved by name.
//
// Buffers handed to the parsers must be 4-byte aligned (libmnl reads the headers in place); any
// std::vector<std::byte> is. Malformed input throws error.
#ifndef DIBS_SMC_NETLINK_HPP
#define DIBS_SMC_NETLINK_HPP

#include "error.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <libmnl/libmnl.h>

namespace dibs::smc::nl {

using tools::error;

// ---- parsing -------------------------------------------------------------------------------

/// One netlink attribute; type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.
struct attribute {
    std::uint16_t type = 0;
    std::span<const std::byte> payload;
};

/// The attributes in a buffer (a message's tail or a nested attribute's payload), in order.
class attribute_set {
public:
    attribute_set() = default;
    /// Throws error if an attribute header is short, overruns data, or bytes are left over.
    explicit attribute_set(std::span<const std::byte> data);

    [[nodiscard]] std::span<const attribute> all() const noexcept { return attrs_; }
    /// The payload of the first attribute of that type.
    [[nodiscard]] std::optional<std::span<const std::byte>> get(std::uint16_t type) const noexcept;
    [[nodiscard]] bool has(std::uint16_t type) const noexcept { return get(type).has_value(); }
    /// An unsigned integer attribute of 1, 2, 4 or 8 bytes (host byte order); throws error for
    /// another size.
    [[nodiscard]] std::optional<std::uint64_t> uint(std::uint16_t type) const;
    /// A string attribute, up to its first NUL.
    [[nodiscard]] std::optional<std::string> string(std::uint16_t type) const;
    /// A nested attribute's contents.
    [[nodiscard]] std::optional<attribute_set> nested(std::uint16_t type) const;

private:
    std::vector<attribute> attrs_;
};

/// One netlink message; payload follows the nlmsghdr.
struct message {
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    std::uint32_t seq = 0;
    std::uint32_t pid = 0;
    std::span<const std::byte> payload;
};

/// The messages in one received buffer (mnl_nlmsg_ok/mnl_nlmsg_next); throws error if a header
/// is short or overruns data.
[[nodiscard]] std::vector<message> split_messages(std::span<const std::byte> data);

/// A trivially copyable T from the start of bytes; missing trailing bytes read as zero (older
/// kernels send shorter structs), extra bytes are ignored.
template <typename T>
[[nodiscard]] T read_struct(std::span<const std::byte> bytes) noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    T value{};
    std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof(T)));
    return value;
}

/// The error code and the extended-ACK message ("" if none) of an NLMSG_ERROR payload (struct
/// nlmsgerr plus TLVs); error 0 is an ACK. Throws error if the payload is short.
struct nl_error_info {
    int error = 0;
    std::string ext_message;
};
[[nodiscard]] nl_error_info parse_error(const message& msg);

// ---- building ------------------------------------------------------------------------------

/// A request message under construction in its own buffer: nlmsghdr, a fixed header (e.g.
/// genlmsghdr or smc_diag_req), then attributes. A request that outgrows the buffer throws.
class request {
public:
    request(std::uint16_t type, std::uint16_t flags);

    /// Appends the fixed header (mnl_nlmsg_put_extra_header), padded to 4 bytes.
    template <typename T>
    void append_struct(const T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        append(std::as_bytes(std::span{&value, 1}));
    }
    void append(std::span<const std::byte> bytes);
    void add_attribute(std::uint16_t type, std::span<const std::byte> payload);
    /// A string attribute with its terminating NUL.
    void add_string(std::uint16_t type, std::string_view text);

    [[nodiscard]] std::uint16_t type() const noexcept { return header()->nlmsg_type; }
    [[nodiscard]] std::uint16_t flags() const noexcept { return header()->nlmsg_flags; }
    void set_flags(std::uint16_t flags) noexcept { header()->nlmsg_flags = flags; }
    /// Sets nlmsg_seq; the bytes to send.
    [[nodiscard]] std::span<const std::byte> finish(std::uint32_t seq);

private:
    [[nodiscard]] nlmsghdr* header() const noexcept;
    void reserve(std::size_t bytes) const;

    std::vector<std::byte> buf_;
};

// ---- the socket ----------------------------------------------------------------------------

/// Closes a libmnl socket.
struct mnl_socket_close_fn {
    void operator()(mnl_socket* sock) const noexcept;
};
/// The owner of a struct mnl_socket.
using mnl_socket_ptr = std::unique_ptr<mnl_socket, mnl_socket_close_fn>;

/// Called for every reply of a request except the control messages (ACK, DONE, errors).
using message_handler = std::function<void(const message&)>;

/// A netlink socket (NETLINK_GENERIC, NETLINK_SOCK_DIAG, ...) bound to the kernel.
class socket {
public:
    /// what names the interface in errors, e.g. "sock_diag".
    socket(int bus, std::string what);

    /// Sends req and passes each reply to on_reply (mnl_cb_run2). A dump (NLM_F_DUMP) ends with
    /// NLMSG_DONE; any other request gets NLM_F_ACK and ends with its ACK. A netlink error throws
    /// error "<context>: <strerror> (errno N)[: <kernel message>]" with errnum() set.
    void transact(request& req, std::string_view context, const message_handler& on_reply = {});

private:
    mnl_socket_ptr sock_;
    std::string what_;
    std::uint32_t seq_ = 0;
    std::vector<std::byte> buf_;
};

// ---- generic netlink -----------------------------------------------------------------------

/// A generic netlink family resolved by name, with its own socket.
class genl_family {
public:
    /// Resolves name with CTRL_CMD_GETFAMILY. If the family does not exist, throws error
    /// "generic netlink family NAME not found - <missing_hint>" (errnum ENOENT).
    genl_family(std::string_view name, std::string_view missing_hint);

    [[nodiscard]] std::uint16_t id() const noexcept { return id_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    /// A request for cmd (genlmsghdr included); dump adds NLM_F_DUMP.
    [[nodiscard]] request make_request(std::uint8_t cmd, bool dump = false) const;
    /// Runs req; on_reply gets the attributes of each reply (after the genlmsghdr).
    void transact(request& req, std::string_view context,
                  const std::function<void(const attribute_set&)>& on_reply = {});
    /// make_request(cmd, true) + transact.
    void dump(std::uint8_t cmd, std::string_view context,
              const std::function<void(const attribute_set&)>& on_reply);

private:
    socket sock_;
    std::string name_;
    std::uint16_t id_ = 0;
    std::uint8_t version_ = 1;
};

/// The attributes of a generic netlink reply (its payload after the genlmsghdr).
[[nodiscard]] attribute_set genl_attributes(const message& msg);

} // namespace dibs::smc::nl

#endif // DIBS_SMC_NETLINK_HPP

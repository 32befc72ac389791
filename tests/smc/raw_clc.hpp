// SPDX-License-Identifier: GPL-2.0
//
// raw_clc.hpp - hand-made CLC messages for an AF_SMC listener, sent from a TCP peer in user space.
//
// A listener parses CLC messages only from peers whose SYN carried the SMC TCP option (kind 254,
// magic "SMCR" in EBCDIC); a plain AF_INET socket cannot set it, so its bytes arrive as ordinary
// data on a fallback connection. To reach the CLC parser, tun_peer plays the peer itself: a TUN
// interface (smct<N>, 10.243.0.1/30) on which this process is 10.243.0.2 and speaks just enough
// TCP (handshake with the SMC option, data, FIN, RST, ACKs) by hand.
#pragma once

#include "smc_sock.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dibs::smc_test {

struct segment; // a parsed TCP segment (raw_clc.cpp)

// What the listener did with a crafted connection.
struct raw_reaction {
    bool smc_offered = false; // the SYN-ACK carried the SMC option
    bool reset = false;       // RST received
    bool closed = false;      // FIN received
    std::vector<std::byte> data;

    [[nodiscard]] bool any() const noexcept { return reset || closed || !data.empty(); }
    // A CLC DECLINE (eye-catcher, type 4) at the start of the data; its reason or nullopt.
    [[nodiscard]] std::optional<std::uint32_t> decline_reason() const;
    [[nodiscard]] std::string str() const;
};

class tun_peer {
public:
    // Creates and configures the TUN interface (needs CAP_NET_ADMIN and the tun module).
    tun_peer();

    [[nodiscard]] const std::string& ifname() const noexcept { return ifname_; }
    [[nodiscard]] static std::string local_addr() { return "10.243.0.1"; } // the kernel's side
    [[nodiscard]] static std::string peer_addr() { return "10.243.0.2"; }  // ours

    // One connection from the peer address to local_addr():port.
    class connection {
    public:
        // Three-way handshake with the SMC option in the SYN; throws if no SYN-ACK arrives.
        connection(tun_peer& tun, std::uint16_t port, int timeout_ms);
        connection(const connection&) = delete;
        connection& operator=(const connection&) = delete;
        ~connection(); // sends RST unless the listener already reset the connection

        void send(std::span<const std::byte> payload);
        void send_fin();
        // Collects the listener's segments (ACKing them) until it resets or closes, or
        // until `until_bytes` bytes of data arrived, or for timeout_ms at most.
        [[nodiscard]] const raw_reaction& await(int timeout_ms, std::size_t until_bytes = 0);
        [[nodiscard]] const raw_reaction& reaction() const noexcept { return seen_; }

    private:
        void handle(const segment& s);
        tun_peer& tun_;
        std::uint16_t sport_;
        std::uint16_t dport_;
        std::uint32_t snd_nxt_;
        std::uint32_t rcv_nxt_ = 0;
        raw_reaction seen_;
    };

private:
    friend class connection;
    void write_segment(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq,
                       std::uint32_t ack, std::uint8_t flags, std::span<const std::byte> options,
                       std::span<const std::byte> payload);
    // The next TCP segment from the kernel to us for the given ports, within timeout_ms.
    [[nodiscard]] bool read_segment(std::uint16_t sport, std::uint16_t dport, segment& out,
                                    int timeout_ms);

    unique_fd tun_;
    std::string ifname_;
    std::uint16_t ip_id_ = 1;
};

// The crafted first messages for the listener (name, bytes, whether a FIN follows).
struct clc_case {
    std::string name;
    std::vector<std::byte> bytes;
    bool fin = false;
    bool stall = false;       // header only: the listener must time out by itself (6 s)
    bool expect_echo = false; // a peer decline: the connection falls back, the bytes after it
                              // ("PING") come back from the echo server
};

[[nodiscard]] std::vector<clc_case> clc_cases(const std::string& ueid);

} // namespace dibs::smc_test

// SPDX-License-Identifier: GPL-2.0
//
// Which rdma devices the dibs provider claims. Pure logic, shared by the provider and its unit
// test.
//
// The kernel driver is out of tree, so it registers with driver_id RDMA_DRIVER_UNKNOWN and
// cannot be matched by id: the provider matches on the ib_device name (DIBS_RDMA_NAME_PREFIX)
// and the device's uverbs ABI version (DIBS_RDMA_ABI_VERSION), both from the uapi header.
#ifndef DIBS_PROVIDER_MATCH_HPP
#define DIBS_PROVIDER_MATCH_HPP

#include <cstdint>
#include <string_view>

#include <rdma/dibs-rdma-abi.h>

namespace dibs::provider {

/// The name prefix of every dibs ib_device ("dibs_lo0", ...).
inline constexpr std::string_view device_name_prefix = DIBS_RDMA_NAME_PREFIX;
/// The only uverbs ABI version this provider speaks.
inline constexpr std::uint32_t abi_version = DIBS_RDMA_ABI_VERSION;

enum class device_match {
    foreign,      ///< not a dibs device: left to other providers
    abi_mismatch, ///< a dibs device whose kernel driver speaks another ABI version
    match,        ///< a dibs device this provider drives
};

/// Classifies the rdma device ibdev_name whose uverbs ABI version is device_abi_version.
[[nodiscard]] constexpr device_match classify_device(std::string_view ibdev_name,
                                                     std::uint32_t device_abi_version) noexcept {
    if (!ibdev_name.starts_with(device_name_prefix)) {
        return device_match::foreign;
    }
    return device_abi_version == abi_version ? device_match::match : device_match::abi_mismatch;
}

} // namespace dibs::provider

#endif // DIBS_PROVIDER_MATCH_HPP

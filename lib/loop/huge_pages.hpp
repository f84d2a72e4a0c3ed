// SPDX-License-Identifier: MIT
/// @file
/// Memory mapped 2 MiB-aligned and advised MADV_HUGEPAGE, for the engine's big buffers (the
/// small-object pools' chunks, the ready queue from 2 MiB on).
///
/// Why: with transparent huge pages ("always" or "madvise"), a burst that touches megabytes takes
/// one page fault per 2 MiB instead of one per 4 KiB page (a fault costs microseconds in a VM).
/// Without THP the advice fails harmlessly and the mapping behaves as any other.
#pragma once

#include <cstddef>

namespace bulb::detail {

/// The alignment (and granule) of map_huge_aligned().
inline constexpr std::size_t huge_page_bytes = std::size_t(2) << 20;

/// Maps `bytes` (a multiple of huge_page_bytes) of zeroed memory aligned to huge_page_bytes;
/// throws std::bad_alloc when the kernel refuses.
void* map_huge_aligned(std::size_t bytes);

/// Unmaps what map_huge_aligned() returned (`bytes` as given to it).
void unmap_huge(void* p, std::size_t bytes) noexcept;

/// Lets the kernel take the pages of `p` back when it needs memory (MADV_FREE); until it does,
/// touching them again costs no fault.
void release_huge_pages(void* p, std::size_t bytes) noexcept;

}  // namespace bulb::detail

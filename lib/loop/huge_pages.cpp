// SPDX-License-Identifier: MIT
/// @file
/// map_huge_aligned(): over-map by one huge page, trim both ends to the alignment.
#include "loop/huge_pages.hpp"

#include "loop/asan.hpp"

#include <cstdint>
#include <new>

#include <sys/mman.h>

#if BULB_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace bulb::detail {

void* map_huge_aligned(std::size_t bytes) {
    void* raw = ::mmap(nullptr, bytes + huge_page_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const auto base = (start + huge_page_bytes - 1) & ~std::uintptr_t(huge_page_bytes - 1);
    const auto end = start + bytes + huge_page_bytes;
    if (base > start) ::munmap(raw, base - start);
    if (end > base + bytes) ::munmap(reinterpret_cast<void*>(base + bytes), end - (base + bytes));
    ::madvise(reinterpret_cast<void*>(base), bytes, MADV_HUGEPAGE);  // a hint: fails harmlessly without THP
    return reinterpret_cast<void*>(base);
}

void unmap_huge(void* p, std::size_t bytes) noexcept {
#if BULB_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, bytes);  // the next mapping at this address starts clean
#endif
    ::munmap(p, bytes);
}

void release_huge_pages(void* p, std::size_t bytes) noexcept { ::madvise(p, bytes, MADV_FREE); }

}  // namespace bulb::detail

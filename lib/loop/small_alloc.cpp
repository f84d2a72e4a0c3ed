// SPDX-License-Identifier: MIT
/// @file
/// The small-object pools (loop/small_alloc.hpp) and the callback nodes made from them: blocks
/// of 32 to 512 bytes carved from per-thread 64 KiB slabs, one slab list per size class (steps of
/// 32 bytes), so call_soon / call_later, coroutine frames, task runners and future states do not
/// go through malloc one by one.
///
/// Why: with glibc, allocating and freeing one node per callback was 57 % of the instructions of
/// scheduling and running 1,000,000 callbacks (bench/ (a)), and a third of the time of 200,000
/// timers (b), once more callbacks were pending than a free list could keep. The same held for the
/// three allocations of each task in (c) (42 % of its instructions in malloc/free).
///
/// How: each thread owns the slabs it carved. A block finds its slab by masking its address; the
/// slab header says its size class. The owning thread allocates and frees without atomics or
/// locks (the loop thread, in practice). A block freed on another thread (an EventLoop destroyed
/// on a thread other than the one that ran it, a future dropped by a worker, say) goes under a
/// global mutex to its owner's "remote" list for that class, which the owner takes back when it
/// next needs a slab of that class. When a thread exits, its empty slabs are freed and the others
/// become orphans (owner null): their blocks are then freed under the mutex and the slab with the
/// last one. Up to max_empty_slabs empty slabs (1 MiB, all classes together) stay cached per
/// thread; the rest go back to the 2 MiB chunks they were cut from (see "slab memory" below).
/// Sanitizer builds run this same code: under ASan free blocks and the unused tail of each block
/// are poisoned, and the chunks are LeakSanitizer root regions (pointers stored in blocks count).
#include "loop/small_alloc.hpp"

#include "loop/asan.hpp"
#include "loop/huge_pages.hpp"
#include "loop/scheduled_callback.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>

#if BULB_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#define BULB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define BULB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define BULB_POISON(p, n) static_cast<void>(0)
#define BULB_UNPOISON(p, n) static_cast<void>(0)
#endif

namespace bulb::detail {
namespace {

constexpr std::size_t slab_bytes = 64 * 1024;  // also the slab alignment
constexpr std::size_t max_empty_slabs = 16;    // per thread, all classes together
constexpr std::size_t n_classes = small_alloc_max / small_alloc_step;
constexpr std::size_t slots_offset = 128;      // the header, rounded up to cache lines

static_assert(small_alloc_max % small_alloc_step == 0 && small_alloc_step % 16 == 0);

struct HotCache;
struct Slab;
struct Chunk;

struct FreeSlot {
    FreeSlot* next;
};

struct SlabHeader {
    std::atomic<HotCache*> owner;  // the thread that carved it; null once that thread has exited
    FreeSlot* free;                // freed slots (owner thread only; under slab_mutex once orphaned)
    std::uint32_t live;            // slots handed out and not freed yet
    std::uint32_t fresh;           // slots from this index on were never handed out
    std::uint32_t slot_bytes;      // the size class
    std::uint32_t slots;           // slots in this slab
    std::uint32_t cls;             // index of the size class
    bool in_avail;
    Chunk* chunk;                  // the memory it was cut from
    Slab* avail_prev;              // the owner's slabs of this class with room, other than current
    Slab* avail_next;
    Slab* all_prev;                // every slab of the owner in this class
    Slab* all_next;
};
static_assert(sizeof(SlabHeader) <= slots_offset);

struct Slab {
    SlabHeader h;
    void* slot(std::uint32_t i) noexcept {
        return reinterpret_cast<unsigned char*>(this) + slots_offset + std::size_t(i) * h.slot_bytes;
    }
};

constexpr std::size_t class_of(std::size_t bytes) noexcept { return (bytes - 1) / small_alloc_step; }

Slab* slab_of(void* p) noexcept {
    return reinterpret_cast<Slab*>(reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t(slab_bytes - 1));
}

// A thread's lists for one size class (off the fast path).
struct ClassState {
    Slab* avail;                       // slabs with room
    Slab* all;                         // every slab owned
    FreeSlot* remote;                  // slots freed by other threads (under slab_mutex)
    std::atomic<bool> remote_pending;  // `remote` is not empty
};

struct ThreadPools {
    ClassState cls[n_classes];
    std::size_t empty = 0;  // empty slabs kept (in the `avail` lists)
};

// Trivially destructible on purpose: a thread_local with a destructor is reached through a guard
// variable and __tls_get_addr on every use. This one is a plain %fs-relative access (initial-exec:
// a few bytes of static TLS, which glibc also sets aside for libraries loaded with dlopen). The
// rest of a thread's state is on the heap (made with its first slab), freed by a separate
// thread_local cleanup at thread exit.
struct HotCache {
    Slab* current[n_classes];  // slab allocated from, per class
    ThreadPools* pools;
    bool dead;                 // the thread-exit cleanup ran
};

constinit thread_local HotCache hot __attribute__((tls_model("initial-exec"))) = {};

constinit std::mutex slab_mutex;                    // remote frees, orphan slabs, thread exit
constinit Slab* orphan_current[n_classes] = {};     // carved from by threads past their cleanup

// --- slab memory ---------------------------------------------------------------------------
// Slabs are cut from 2 MiB chunks (map_huge_aligned: with transparent huge pages, a burst of
// callbacks or tasks takes one page fault per 32 slabs instead of one per 4 KiB page). The chunks
// are shared by all threads (chunk_mutex: once per slab, not per block). Wholly free chunks stay
// mapped, up to max_free_chunks: one as it is, the others advised MADV_FREE, so the kernel takes
// their pages back when it needs memory, and the next burst reuses those it has not taken
// without faulting and zeroing them again. Beyond max_free_chunks they are unmapped.

constexpr std::size_t chunk_bytes = huge_page_bytes;
constexpr std::uint32_t all_slabs_free = 0xffffffffu;
static_assert(chunk_bytes / slab_bytes == 32);

struct Chunk {
    unsigned char* base;
    std::uint32_t free_mask;  // bit i: slab i is free
    Chunk* prev;              // chunks with a free slab
    Chunk* next;
};

constinit std::mutex chunk_mutex;
constinit Chunk* chunks_with_room = nullptr;
constexpr std::size_t max_free_chunks = 128;  // 256 MiB of address space
constinit std::size_t free_chunks = 0;       // wholly free chunks kept mapped

void room_push(Chunk* c) noexcept {
    c->prev = nullptr;
    c->next = chunks_with_room;
    if (chunks_with_room) chunks_with_room->prev = c;
    chunks_with_room = c;
}

void room_unlink(Chunk* c) noexcept {
    (c->prev ? c->prev->next : chunks_with_room) = c->next;
    if (c->next) c->next->prev = c->prev;
}

Chunk* map_chunk() {
    auto* c = new Chunk{nullptr, all_slabs_free, nullptr, nullptr};
    try {
        c->base = static_cast<unsigned char*>(map_huge_aligned(chunk_bytes));
    } catch (...) {
        delete c;
        throw;
    }
#if BULB_ASAN
    // LeakSanitizer does not scan mmap'd memory: without this, what only pooled objects point to
    // (a future's string, a task's captures) would be reported as leaked.
    __lsan_register_root_region(c->base, chunk_bytes);
#endif
    return c;
}

void* slab_memory(Chunk*& chunk) {
    std::lock_guard lock(chunk_mutex);
    Chunk* c = chunks_with_room;
    if (!c) {
        c = map_chunk();
        room_push(c);
        ++free_chunks;
    }
    if (c->free_mask == all_slabs_free) --free_chunks;
    const int i = __builtin_ctz(c->free_mask);
    c->free_mask &= ~(1u << i);
    if (!c->free_mask) room_unlink(c);
    chunk = c;
    return c->base + std::size_t(i) * slab_bytes;
}

void free_slab_memory(Chunk* c, void* mem) noexcept {
    std::lock_guard lock(chunk_mutex);
    const auto i = (static_cast<unsigned char*>(mem) - c->base) / slab_bytes;
    if (!c->free_mask) room_push(c);
    c->free_mask |= 1u << i;
    if (c->free_mask != all_slabs_free) return;
    if (free_chunks < max_free_chunks) {
        // Kept mapped; beyond the first, the kernel may take the pages back when it needs memory
        // (MADV_FREE), and if it has not by the next burst, they are reused without new faults.
        if (free_chunks++ > 0) release_huge_pages(c->base, chunk_bytes);
        return;
    }
    room_unlink(c);
#if BULB_ASAN
    __lsan_unregister_root_region(c->base, chunk_bytes);
#endif
    unmap_huge(c->base, chunk_bytes);
    delete c;
}

Slab* new_slab(HotCache* owner, std::size_t cls) {
    Chunk* chunk;
    void* mem = slab_memory(chunk);
    Slab* s = ::new (mem) Slab{};
    s->h.chunk = chunk;
    s->h.owner.store(owner, std::memory_order_relaxed);
    s->h.cls = static_cast<std::uint32_t>(cls);
    s->h.slot_bytes = static_cast<std::uint32_t>((cls + 1) * small_alloc_step);
    s->h.slots = static_cast<std::uint32_t>((slab_bytes - slots_offset) / s->h.slot_bytes);
    BULB_POISON(s->slot(0), std::size_t(s->h.slots) * s->h.slot_bytes);
    return s;
}

void delete_slab(Slab* s) noexcept {
    BULB_UNPOISON(s->slot(0), std::size_t(s->h.slots) * s->h.slot_bytes);
    free_slab_memory(s->h.chunk, s);
}

// Takes a slot from `s` (null when it is full).
inline void* carve(Slab* s) noexcept {
    void* p;
    if (FreeSlot* f = s->h.free) {
        BULB_UNPOISON(f, s->h.slot_bytes);
        s->h.free = f->next;
        p = f;
    } else if (s->h.fresh < s->h.slots) {
        p = s->slot(s->h.fresh++);
        BULB_UNPOISON(p, s->h.slot_bytes);
    } else {
        return nullptr;
    }
    ++s->h.live;
    return p;
}

void push_slot(Slab* s, void* p) noexcept {
    auto* f = static_cast<FreeSlot*>(p);
    f->next = s->h.free;
    s->h.free = f;
    BULB_POISON(f, s->h.slot_bytes);
}

// --- the owner's lists (owner thread only) -------------------------------------------------

void avail_push(ClassState& c, Slab* s) noexcept {
    s->h.avail_prev = nullptr;
    s->h.avail_next = c.avail;
    if (c.avail) c.avail->h.avail_prev = s;
    c.avail = s;
    s->h.in_avail = true;
}

void avail_unlink(ClassState& c, Slab* s) noexcept {
    (s->h.avail_prev ? s->h.avail_prev->h.avail_next : c.avail) = s->h.avail_next;
    if (s->h.avail_next) s->h.avail_next->h.avail_prev = s->h.avail_prev;
    s->h.in_avail = false;
}

void all_push(ClassState& c, Slab* s) noexcept {
    s->h.all_prev = nullptr;
    s->h.all_next = c.all;
    if (c.all) c.all->h.all_prev = s;
    c.all = s;
}

void all_unlink(ClassState& c, Slab* s) noexcept {
    (s->h.all_prev ? s->h.all_prev->h.all_next : c.all) = s->h.all_next;
    if (s->h.all_next) s->h.all_next->h.all_prev = s->h.all_prev;
}

// Returns a slot of a slab this thread owns.
inline void free_local(HotCache& t, Slab* s, void* p) noexcept {
    const std::uint32_t k = s->h.cls;
    if (--s->h.live != 0) [[likely]] {
        push_slot(s, p);
        if (!s->h.in_avail && s != t.current[k]) avail_push(t.pools->cls[k], s);
        return;
    }
    // empty: reset it, keep a few, give the rest back
    BULB_POISON(p, s->h.slot_bytes);
    s->h.free = nullptr;
    s->h.fresh = 0;
    if (s == t.current[k]) return;
    ThreadPools& tp = *t.pools;
    if (tp.empty < max_empty_slabs) {
        if (!s->h.in_avail) avail_push(tp.cls[k], s);
        ++tp.empty;
        return;
    }
    if (s->h.in_avail) avail_unlink(tp.cls[k], s);
    all_unlink(tp.cls[k], s);
    delete_slab(s);
}

// Returns a slot of an orphan slab (slab_mutex held).
void free_orphan(Slab* s, void* p) noexcept {
    if (--s->h.live == 0 && s != orphan_current[s->h.cls]) {
        delete_slab(s);
        return;
    }
    push_slot(s, p);
}

void take_remote(HotCache& t, std::size_t k) noexcept {
    ClassState& c = t.pools->cls[k];
    FreeSlot* list;
    {
        std::lock_guard lock(slab_mutex);
        list = c.remote;
        c.remote = nullptr;
        c.remote_pending.store(false, std::memory_order_relaxed);
    }
    while (list) {
        FreeSlot* next = list->next;
        free_local(t, slab_of(list), list);
        list = next;
    }
}

struct PoolReaper {
    ~PoolReaper() {
        HotCache& t = hot;
        ThreadPools* tp = t.pools;
        if (!tp) {  // making them failed (bad_alloc): no slab was carved
            t.dead = true;
            return;
        }
        std::lock_guard lock(slab_mutex);  // held throughout: no remote free may slip in between
        for (ClassState& c : tp->cls) {
            for (FreeSlot* f = std::exchange(c.remote, nullptr); f;) {
                FreeSlot* next = f->next;
                free_local(t, slab_of(f), f);
                f = next;
            }
            c.remote_pending.store(false, std::memory_order_relaxed);
        }
        for (ClassState& c : tp->cls) {
            for (Slab* s = c.all; s;) {
                Slab* next = s->h.all_next;
                if (s->h.live == 0)
                    delete_slab(s);
                else
                    s->h.owner.store(nullptr, std::memory_order_relaxed);  // freed by whoever frees its last block
                s = next;
            }
        }
        for (Slab*& s : t.current) s = nullptr;
        t.pools = nullptr;
        t.dead = true;
        delete tp;
    }
};

[[gnu::noinline]] void make_pools() {
    thread_local PoolReaper reaper;  // its destructor is registered when control first gets here
    static_cast<void>(reaper);
    hot.pools = new ThreadPools{};
}

// A thread past its cleanup (in a later thread_local or static destructor) shares one orphan
// slab per class.
[[gnu::noinline]] void* alloc_orphan(std::size_t k) {
    std::lock_guard lock(slab_mutex);
    void* p = orphan_current[k] ? carve(orphan_current[k]) : nullptr;
    if (!p) {
        Slab* old = orphan_current[k];
        orphan_current[k] = new_slab(nullptr, k);
        if (old && old->h.live == 0) delete_slab(old);
        p = carve(orphan_current[k]);
    }
    return p;
}

[[gnu::noinline]] void* alloc_slow(std::size_t k) {
    HotCache& t = hot;
    if (t.dead) return alloc_orphan(k);
    if (!t.pools) make_pools();
    ThreadPools& tp = *t.pools;
    ClassState& c = tp.cls[k];
    if (c.remote_pending.load(std::memory_order_acquire)) {
        take_remote(t, k);
        if (t.current[k])
            if (void* p = carve(t.current[k])) return p;
    }
    if (Slab* s = c.avail) {
        avail_unlink(c, s);
        if (s->h.live == 0) --tp.empty;
        t.current[k] = s;
        return carve(s);
    }
    Slab* s = new_slab(&t, k);
    all_push(c, s);
    t.current[k] = s;
    return carve(s);
}

inline void* alloc_in(std::size_t k) {
    Slab* s = hot.current[k];
    void* p = s ? carve(s) : nullptr;
    return p ? p : alloc_slow(k);
}

[[gnu::noinline]] void free_remote(Slab* s, void* p) noexcept {
    std::lock_guard lock(slab_mutex);
    if (HotCache* owner = s->h.owner.load(std::memory_order_relaxed)) {  // alive: it takes it back
        ClassState& c = owner->pools->cls[s->h.cls];
        auto* f = static_cast<FreeSlot*>(p);
        f->next = c.remote;
        c.remote = f;
        c.remote_pending.store(true, std::memory_order_release);
    } else {
        free_orphan(s, p);
    }
}

inline void free_block(void* p) noexcept {
    Slab* s = slab_of(p);
    HotCache& t = hot;
    if (s->h.owner.load(std::memory_order_relaxed) == &t) [[likely]]
        free_local(t, s, p);
    else
        free_remote(s, p);
}

}  // namespace

void* small_alloc(std::size_t bytes) {
    void* p = alloc_in(class_of(bytes));
#if BULB_ASAN
    const std::size_t used = (bytes + 7) & ~std::size_t(7), slot = (class_of(bytes) + 1) * small_alloc_step;
    if (used < slot) BULB_POISON(static_cast<unsigned char*>(p) + used, slot - used);
#endif
    return p;
}

void small_free(void* p) noexcept { free_block(p); }

void* pool_allocate(std::size_t bytes) { return small_alloc(bytes); }
void pool_deallocate(void* p) noexcept { free_block(p); }

// Callback nodes are made and freed here, next to the pools' fast path, which inlines into them
// (one node per call_soon / call_later).
static_assert(sizeof(ScheduledCallback) % small_alloc_step == 0 && sizeof(ScheduledCallback) <= small_alloc_max);
static_assert(sizeof(ScheduledCallback) == 64, "a callback node is one cache line");

void* ScheduledCallback::operator new(std::size_t) { return alloc_in(class_of(sizeof(ScheduledCallback))); }

void ScheduledCallback::operator delete(void* p) noexcept { free_block(p); }

}  // namespace bulb::detail

// Synchronization and queues: producers and consumers on a bounded Queue (put() waits while it
// is full), a Lock around a shared counter, and an Event to say "all done".
#include <bulb/coro.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

bulb::Task<> producer(bulb::Queue<int>& queue, int first, int count) {
    for (int i = first; i < first + count; ++i) co_await queue.put(i);  // backpressure at maxsize
}

bulb::Task<> consumer(bulb::Queue<int>& queue, bulb::Lock& lock, long& sum) {
    for (;;) {
        int item = co_await queue.get();
        {
            auto held = co_await lock.scoped();  // released when `held` goes out of scope
            sum += item;
            co_await bulb::sleep(0ms);           // still holding the lock across a suspension
        }
        queue.task_done();
    }
}

bulb::Task<> main_task() {
    bulb::Queue<int> queue(4);  // at most 4 items waiting
    bulb::Lock lock;
    bulb::Event finished;
    long sum = 0;

    bulb::Future<void> c1 = bulb::create_task(consumer(queue, lock, sum));
    bulb::Future<void> c2 = bulb::create_task(consumer(queue, lock, sum));
    bulb::Future<void> p1 = bulb::create_task(producer(queue, 1, 50));
    bulb::Future<void> p2 = bulb::create_task(producer(queue, 51, 50));
    co_await p1;
    co_await p2;
    co_await queue.join();  // every item taken and task_done()
    finished.set();
    c1.cancel();
    c2.cancel();

    co_await finished.wait();
    std::printf("sum of 1..100: %ld\n", sum);
}

int main() { bulb::run(main_task()); }

// Threads and the executor: blocking work goes to the loop's thread pool (run_in_executor), and
// another thread hands a result back with call_soon_threadsafe.
#include <bulb/bulb.hpp>

#include <cstdio>
#include <thread>

int main() {
    bulb::EventLoop loop;

    // A blocking computation off the loop thread; its Future resolves on the loop.
    bulb::Future<long> sum = loop.run_in_executor([] {
        long total = 0;
        for (long i = 1; i <= 1000000; ++i) total += i;
        return total;
    });
    std::printf("executor: %ld\n", loop.run_until_complete(sum));

    // A thread of our own: call_soon_threadsafe is the one loop method it may call.
    bulb::Future<int> from_thread(loop);
    std::thread worker([&] { loop.call_soon_threadsafe([&] { from_thread.set_result(7); }); });
    std::printf("from a thread: %d\n", loop.run_until_complete(from_thread));
    worker.join();
    loop.close();
    return 0;
}

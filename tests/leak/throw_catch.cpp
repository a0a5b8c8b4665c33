// throw_catch.cpp — a C++ program that frees everything it allocates, for
// the leak report's tests (tests/check_api_prof_leak.c): four threads throw
// and catch exceptions (standard ones with long messages, and ints), build
// strings and vectors, then the totals go to standard output through both
// iostream and stdio.  Under prof_leak_error it must exit 0: what the C++
// runtime keeps for the process's life (libstdc++'s emergency exception
// pool, the threads' TLS, stdio's buffer) is the built-in suppressions'.
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static int
work(int id)
{
	int caught = 0;
	std::vector<std::string> seen;
	for (int i = 0; i < 200; i++) {
		try {
			if (i % 3 == 0)
				throw std::runtime_error("thread " + std::to_string(id) +
				                         " fails on purpose, with a message long enough "
				                         "to be allocated: " +
				                         std::to_string(i));
			if (i % 3 == 1)
				throw std::out_of_range(std::string(100, 'x'));
			throw i;
		} catch (const std::exception &e) {
			seen.emplace_back(e.what());
			caught++;
		} catch (int) {
			caught++;
		}
	}
	return caught + static_cast<int>(seen.size() - seen.size());
}

int
main()
{
	std::vector<std::thread> threads;
	int totals[4] = {0, 0, 0, 0};
	for (int i = 0; i < 4; i++)
		threads.emplace_back([i, &totals] { totals[i] = work(i); });
	for (auto &t : threads)
		t.join();
	int sum = totals[0] + totals[1] + totals[2] + totals[3];
	std::cout << "throw_catch: " << sum << " exceptions caught" << std::endl;
	std::printf("throw_catch: done\n");
	return sum == 800 ? 0 : 1;
}

/*
 * cxx_containers.cpp — a multi-threaded C++ program for tests/real_programs.sh,
 * run on the system allocator and under LD_PRELOAD=libstrata.so.
 *
 * Each round starts fresh std::threads (so thread caches are created and
 * torn down), producers build batches of std::map, std::unordered_map,
 * std::vector, std::string, std::deque and std::shared_ptr structures and
 * hand them through a queue to consumers on other threads, which read them,
 * keep some shared_ptr nodes alive across rounds and free the rest (frees of
 * another thread's memory).  Every producer also throws and catches
 * exceptions carrying strings (the exception objects come from
 * __cxa_allocate_exception, i.e. malloc).
 *
 * Invariant: the output depends only on the fixed seeds, never on the
 * scheduling — a consumer's checksum of a batch is a function of the batch,
 * and the checksums are summed (mod 2^64) in any order.  Prints one line per
 * round and a final line; exits 1 if a batch was seen corrupted.
 */
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kRounds = 16;
constexpr int kProducers = 4;
constexpr int kConsumers = 4;
constexpr int kBatchesPerProducer = 100;

struct Node {
	uint64_t value;
	std::string label;
	std::vector<std::shared_ptr<Node>> children;
};

struct Batch {
	uint64_t id;
	uint64_t expect; /* the producer's checksum; the consumer recomputes it */
	std::map<std::string, std::vector<uint32_t>> by_name;
	std::unordered_map<uint64_t, std::string> by_id;
	std::deque<std::shared_ptr<Node>> nodes;
};

class BadItem : public std::runtime_error {
public:
	BadItem(const std::string &what, uint64_t code) : std::runtime_error(what), code(code) {}
	uint64_t code;
};

/* xorshift64*: the only randomness, seeded per producer and round. */
struct Rng {
	uint64_t s;
	uint64_t next()
	{
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		return s * 2685821657736338717ull;
	}
};

uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

uint64_t hash_string(const std::string &s)
{
	uint64_t h = 1469598103934665603ull;
	for (unsigned char c : s)
		h = (h ^ c) * 1099511628211ull;
	return h;
}

uint64_t batch_checksum(const Batch &b)
{
	uint64_t h = b.id;
	for (const auto &kv : b.by_name) {
		h = mix(h, hash_string(kv.first));
		for (uint32_t v : kv.second)
			h = mix(h, v);
	}
	uint64_t unordered = 0; /* the unordered_map's order is not fixed: sum */
	for (const auto &kv : b.by_id)
		unordered += mix(kv.first, hash_string(kv.second));
	h = mix(h, unordered);
	for (const auto &n : b.nodes) {
		h = mix(h, n->value ^ hash_string(n->label));
		for (const auto &c : n->children)
			h = mix(h, c->value);
	}
	return h;
}

/* Throws from a few frames down and catches; returns what was caught. */
uint64_t throw_depth(Rng &rng, int depth)
{
	if (depth == 0) {
		uint64_t v = rng.next();
		if (v % 3 == 0)
			throw BadItem("bad item " + std::to_string(v) + std::string(v % 200, 'x'), v);
		if (v % 3 == 1)
			throw std::out_of_range(std::string(64 + v % 500, 'o'));
		return v % 1000;
	}
	std::vector<std::string> locals(depth, std::string(depth * 10, 'l'));
	return throw_depth(rng, depth - 1) + locals.size();
}

uint64_t exceptions(Rng &rng)
{
	uint64_t sum = 0;
	for (int i = 0; i < 40; i++) {
		try {
			sum += throw_depth(rng, 1 + i % 6);
		} catch (const BadItem &e) {
			sum += e.code % 7919 + std::string(e.what()).size();
		} catch (const std::exception &e) {
			sum += std::string(e.what()).size();
		}
	}
	return sum;
}

std::unique_ptr<Batch> make_batch(Rng &rng, uint64_t id)
{
	auto b = std::make_unique<Batch>();
	b->id = id;
	int names = 20 + rng.next() % 80;
	for (int i = 0; i < names; i++) {
		std::string name = "name-" + std::to_string(rng.next() % 100000) +
		                   std::string(rng.next() % 40, 'n');
		auto &vec = b->by_name[name];
		int n = rng.next() % 300;
		for (int k = 0; k < n; k++)
			vec.push_back(static_cast<uint32_t>(rng.next()));
	}
	int ids = 50 + rng.next() % 200;
	for (int i = 0; i < ids; i++)
		b->by_id[rng.next() % 1000000] = std::string(1 + rng.next() % 120, 'a' + i % 26);
	int nodes = 10 + rng.next() % 60;
	for (int i = 0; i < nodes; i++) {
		auto n = std::make_shared<Node>();
		n->value = rng.next();
		n->label = std::to_string(n->value) + "/" + std::to_string(i);
		if (!b->nodes.empty())
			n->children.push_back(b->nodes[rng.next() % b->nodes.size()]);
		if (rng.next() % 2)
			b->nodes.push_front(n);
		else
			b->nodes.push_back(n);
	}
	b->expect = batch_checksum(*b);
	return b;
}

class Queue {
public:
	void push(std::unique_ptr<Batch> b)
	{
		std::lock_guard<std::mutex> g(mu_);
		items_.push_back(std::move(b));
		cv_.notify_one();
	}
	/* nullptr once closed and drained. */
	std::unique_ptr<Batch> pop()
	{
		std::unique_lock<std::mutex> g(mu_);
		cv_.wait(g, [this] { return !items_.empty() || closed_; });
		if (items_.empty())
			return nullptr;
		auto b = std::move(items_.front());
		items_.pop_front();
		return b;
	}
	void close()
	{
		std::lock_guard<std::mutex> g(mu_);
		closed_ = true;
		cv_.notify_all();
	}

private:
	std::mutex mu_;
	std::condition_variable cv_;
	std::deque<std::unique_ptr<Batch>> items_;
	bool closed_ = false;
};

} // namespace

int main()
{
	std::atomic<uint64_t> total{0};
	std::atomic<uint64_t> corrupt{0};
	/* Nodes kept alive from one round to the next, freed by later rounds'
	 * threads: indexed by batch id so that what is kept does not depend on
	 * which consumer saw the batch. */
	std::vector<std::shared_ptr<Node>> kept(kProducers * kBatchesPerProducer);
	for (int round = 0; round < kRounds; round++) {
		Queue q;
		std::atomic<uint64_t> round_sum{0};
		std::vector<std::thread> consumers;
		for (int c = 0; c < kConsumers; c++)
			consumers.emplace_back([&] {
				while (auto b = q.pop()) {
					uint64_t h = batch_checksum(*b);
					if (h != b->expect)
						corrupt++;
					size_t slot = b->id % kept.size();
					kept[slot] = b->nodes.empty() ? nullptr : b->nodes.back();
					round_sum += h;
				}
			});
		std::vector<std::thread> producers;
		for (int p = 0; p < kProducers; p++)
			producers.emplace_back([&, p] {
				Rng rng{0x5eed0000ull + round * 131 + p * 7 + 1};
				uint64_t ex = 0;
				for (int i = 0; i < kBatchesPerProducer; i++) {
					q.push(make_batch(rng, uint64_t(p) * kBatchesPerProducer + i));
					if (i % 10 == 0)
						ex += exceptions(rng);
				}
				round_sum += ex;
			});
		for (auto &t : producers)
			t.join();
		q.close();
		for (auto &t : consumers)
			t.join();
		uint64_t kept_sum = 0;
		for (const auto &n : kept)
			kept_sum += n ? n->value : 0;
		std::printf("round %d: %016llx kept %016llx\n", round,
		            static_cast<unsigned long long>(round_sum.load()),
		            static_cast<unsigned long long>(kept_sum));
		total += round_sum.load();
	}
	std::printf("total %016llx corrupt %llu\n", static_cast<unsigned long long>(total.load()),
	            static_cast<unsigned long long>(corrupt.load()));
	return corrupt.load() == 0 ? 0 : 1;
}

#include "model/tokenizer/bpe_model.h"

#include <queue>

namespace lmeye {

BpeModel::BpeModel(const std::vector<BpeMerge>& merges) {
  pairs_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const BpeMerge& m = merges[rank];
    pairs_.try_emplace(Key(m.left, m.right), Rule{static_cast<int>(rank), m.merged});
  }
}

void BpeModel::Merge(std::vector<int>* symbols) const {
  std::vector<int>& ids = *symbols;
  const int n = static_cast<int>(ids.size());
  if (n < 2) return;

  // Symbols form a linked list over the original positions; a merged-away symbol gets id -1.
  struct Node {
    int id;
    int prev;
    int next;  // n = end
  };
  std::vector<Node> nodes(n);
  for (int i = 0; i < n; ++i) nodes[i] = {ids[i], i - 1, i + 1};

  // A candidate merge of the symbol at `pos` with its right neighbour. It records the ids it saw
  // so that a candidate made stale by an earlier merge is recognised and dropped when popped.
  struct Candidate {
    int rank;
    int pos;
    int left_id;
    int right_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;  // lowest rank, then leftmost
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](int pos) {
    if (pos < 0) return;
    const int next = nodes[pos].next;
    if (next >= n) return;
    if (const Rule* rule = Find(nodes[pos].id, nodes[next].id)) {
      heap.push({rule->rank, pos, nodes[pos].id, nodes[next].id});
    }
  };
  for (int i = 0; i + 1 < n; ++i) push(i);

  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Node& left = nodes[c.pos];
    if (left.id != c.left_id || left.next >= n || nodes[left.next].id != c.right_id) continue;
    const int right = left.next;
    left.id = Find(c.left_id, c.right_id)->merged;
    left.next = nodes[right].next;
    if (left.next < n) nodes[left.next].prev = c.pos;
    nodes[right].id = -1;
    push(left.prev);
    push(c.pos);
  }

  ids.clear();
  for (int i = 0; i < n; i = nodes[i].next) ids.push_back(nodes[i].id);
}

}  // namespace lmeye

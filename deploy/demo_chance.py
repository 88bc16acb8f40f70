"""Chance rates of a `lmeye data shapes` evaluation set, in percent.

What answering without looking at the image scores on the same questions: per VQA kind, the share
of the kind's most common answer (always giving it); overall, those answers for every kind; for
multiple choice, the share of the most common correct option, and never under 1 in 4 (the options
per question). The model card (deploy/demo-model-card.py) and the end-to-end test
(tests/synth/demo_model_test.sh) both judge "better than chance" with these.
"""
import collections
import json
import os

# Keys as in eval.json: vqa_<kind>, vqa_overall, choice.
def chance_rates(data_dir):
    answers = collections.defaultdict(collections.Counter)
    with open(os.path.join(data_dir, "eval_vqa.jsonl")) as f:
        for line in f:
            q = json.loads(line)
            answers[q["question_type"]][q["answers"][0]] += 1
    rates = {f"vqa_{kind}": 100.0 * max(c.values()) / sum(c.values())
             for kind, c in answers.items()}
    rates["vqa_overall"] = (100.0 * sum(max(c.values()) for c in answers.values())
                            / sum(sum(c.values()) for c in answers.values()))
    options = collections.Counter()
    with open(os.path.join(data_dir, "eval_choice.jsonl")) as f:
        for line in f:
            options[json.loads(line)["answer"]] += 1
    rates["choice"] = max(25.0, 100.0 * max(options.values()) / sum(options.values()))
    return rates


# Points below its claim that the end-to-end test allows a kind (about 60 questions per kind: a
# binomial standard deviation of at most 6.5 points).
MARGIN = 15.0


def not_better_than_chance(claims, rates, margin=MARGIN):
    """The keys of `claims` whose claim, less the margin, is not above chance."""
    return [k for k, v in claims.items() if k in rates and v - margin <= rates[k]]

"""The shipped reader scores a pair the same whatever it is scored with.

Dynamic int8 quantisation picks one activation scale per run; when pairs shared a padded run a
pair's logit moved with its batch-mates (up to 0.71 on validation pairs), so one LLM sentence
could be kept in one answer and removed in another. Each pair now runs alone.
"""

import numpy as np

from pdqa.reader import ANSWER, SUPPORT, load_reader

QUESTION = "How long is the initial contract for the Joint Head post?"
UNITS = [
    "The initial contract for the Joint Head post is 12 months.",
    "Funding was agreed by the commissioners for a further two years, subject to review of the service's outcomes and its waiting list.",
    "Staff said the training days were useful.",
    "The pilots were asked to identify people with a diagnosis of personality disorder who were not engaged with services, to offer them a range of community interventions, and to report outcomes every quarter.",
]


def test_a_pairs_logit_does_not_depend_on_the_pairs_beside_it():
    reader = load_reader()
    pairs = [(QUESTION, unit) for unit in UNITS]
    for head in (ANSWER, SUPPORT):
        together = reader.logits(pairs, head)
        alone = np.array([reader.logits([pair], head)[0] for pair in pairs])
        reversed_order = reader.logits(pairs[::-1], head)[::-1]
        assert np.array_equal(together, alone)
        assert np.array_equal(together, reversed_order)


def test_no_pairs_no_scores():
    assert load_reader().logits([], ANSWER).shape == (0,)

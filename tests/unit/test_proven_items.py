"""Explaining a large invalid batch: fast, and word for word what jsonschema says.

``RequestValidator`` explains an invalid body with jsonschema skipping the
array items the compiled schema proves valid (``wsgi_service.enforcement.proven_items``).
The reference is ``SchemaViolations`` without that skip: jsonschema walking
the whole body, as the service did before. The two must agree on every
pointer, message and their order, on large batches with a few rows broken in
every way a client can break one, on the body around them broken too, and on
schemas of any mix of the supported keywords.
"""


from hypothesis import given, settings
from hypothesis import strategies as st

from contract import load_contract
from tests.support.contract_strategies import (BODY_MUTATIONS, ROOT, ROW_MUTATIONS, Spec, contract_for,
                                                 inside, instances, mutate_body, mutate_row, schemas,
                                                 shaped_instances, spec_of, specs)
from tests.support.profiles import examples
from wsgi_service.errors import MAX_REPORTED_ERRORS
from wsgi_service.enforcement.proven_items import unproven
from wsgi_service.enforcement.validation import RequestValidator, SchemaViolations

CONTRACT = load_contract()
SPEC = spec_of(CONTRACT)
FAST = RequestValidator(CONTRACT)
WHOLE_BODY = SchemaViolations(CONTRACT)


@st.composite
def large_batches(draw, spec: Spec):
    """A valid batch of up to a few hundred rows, in any request form: a few
    drawn rows repeated (drawing every row would make each example slow)."""
    width = len(spec.features)
    size = draw(st.integers(1, 300))
    patterns = draw(st.lists(st.lists(inside(spec), min_size=width, max_size=width), min_size=1, max_size=4))
    rows = [list(patterns[index % len(patterns)]) for index in range(size)]
    form = draw(st.sampled_from(["seed", "arrays", "named", "mixed"]))
    if form == "seed":
        return rows
    named = draw(st.randoms(use_true_random=False))
    return {"instances": [dict(zip(spec.features, row))
                          if form == "named" or (form == "mixed" and named.random() < 0.5) else row
                          for row in rows]}


@st.composite
def large_broken_batches(draw, spec: Spec):
    """A few random rows broken (sometimes more than are reported), in random
    ways: a cell swapped for a hostile, out-of-range or nested value, a cell or
    key dropped, added or renamed, a row in the other form, wrapped or
    replaced; sometimes the body around the rows is broken too."""
    body = draw(large_batches(spec))
    for mutation in draw(st.lists(st.sampled_from(ROW_MUTATIONS), min_size=1,
                                  max_size=draw(st.sampled_from([3, 2 * MAX_REPORTED_ERRORS])))):
        body = mutate_row(draw, spec, body, mutation)
    if draw(st.integers(0, 3)) == 0:
        body = mutate_body(draw, spec, body, draw(st.sampled_from(BODY_MUTATIONS)))
    return body


@settings(max_examples=examples(300))
@given(body=large_broken_batches(SPEC))
def test_a_broken_large_batch_is_explained_as_jsonschema_explains_the_whole_body(body):
    assert FAST.violations(body) == WHOLE_BODY.find(body)


@settings(max_examples=examples(100))
@given(data=st.data(), spec=specs())
def test_synthetic_contracts_explain_as_jsonschema_does(data, spec):
    document = contract_for(spec)
    body = data.draw(large_broken_batches(spec))
    assert RequestValidator(document).violations(body) == SchemaViolations(document).find(body)


@settings(max_examples=examples(400))
@given(data=st.data(), schema=schemas)
def test_any_mix_of_supported_keywords_is_explained_as_jsonschema_does(data, schema):
    """Nested arrays, recursive references, overlapping branches: the skip
    holds wherever an ``items`` schema compiles."""
    document = {"components": {"schemas": {"Root": schema, "Bounded": {"type": "number", "minimum": -1,
                                                                         "exclusiveMaximum": 2}}}}
    instance = data.draw(shaped_instances(schema, document) | instances)
    skipping = SchemaViolations(document, ROOT, skip_proven_items=True)
    assert skipping.find(instance) == SchemaViolations(document, ROOT).find(instance)


def test_few_checks_find_the_few_unproven_rows():
    """Counted, not timed: two bad values among 2,000 cost a few dozen batch
    checks (halving), not 2,000 item checks."""
    checked = []

    def all_valid(batch: list) -> bool:
        checked.append(len(batch))
        return all(value >= 0 for value in batch)

    values = [0] * 2_000
    values[7] = values[1_999] = -1
    assert list(unproven(values, all_valid)) == [7, 1_999]
    assert len(checked) < 60


def test_every_items_schema_of_the_request_has_a_proof():
    """The contract's arrays of rows and of values are all searched by halving:
    one whose schema stopped compiling would be walked in full, row by row."""
    contract = load_contract()
    proven = {tokens for tokens in _proven_items_pointers(contract)}
    for pointer in ("/components/schemas/Row", "/components/schemas/SeedRequest"):
        assert pointer in proven, f"{pointer}/items does not compile"


def _proven_items_pointers(document: dict):
    from wsgi_service.enforcement.proven_items import _item_proofs, _objects

    proofs = _item_proofs(document)
    for tokens, node in _objects(document, ()):
        if isinstance(node.get("items"), dict) and id(node["items"]) in proofs:
            yield "".join("/" + token for token in tokens)

"""Where a request schema declares an integer, and integer-valued floats there read as ints (contract.integers)."""

from contract import load_contract, pointer_to
from contract.integers import ANY, as_integers, integer_places

CONTRACT = load_contract()


def request_schema(path: str) -> str:
    return pointer_to("paths", path, "post", "requestBody", "content", "application/json", "schema")


def test_the_contracts_request_integers_are_the_v2_shape_and_binary_sizes():
    assert set(integer_places(CONTRACT, request_schema("/v2/models/{model_name}/infer"))) == {
        ("inputs", ANY, "shape", 0), *((*where, "parameters", "binary_data_size")
                                       for where in ((), ("inputs", ANY), ("outputs", ANY)))}
    assert integer_places(CONTRACT, request_schema("/predict")) == []


def test_refs_branches_items_and_additional_properties_are_followed_and_cycles_end():
    document = {"components": {"schemas": {
        "Root": {"oneOf": [{"type": "array", "items": {"$ref": "#/components/schemas/Root"}},
                           {"type": "object", "additionalProperties": {"type": ["integer", "null"]},
                            "properties": {"n": {"allOf": [{"type": "integer"}]}}}]}}}}
    assert set(integer_places(document, pointer_to("components", "schemas", "Root"))) == {
        (ANY, ANY), (ANY, "n"), (ANY,), ("n",)}


def test_only_integer_valued_floats_at_the_places_become_ints():
    places = [("inputs", ANY, "shape", 0), ("size",)]
    body = {"inputs": [{"shape": [2.0, 4.0], "data": [1.0]}, {"shape": [2.5]}, {"shape": "x"}], "size": -0.0}
    assert as_integers(body, places) == {"inputs": [{"shape": [2, 4.0], "data": [1.0]}, {"shape": [2.5]},
                                                    {"shape": "x"}], "size": 0}
    assert type(body["inputs"][0]["shape"][0]) is int and type(body["inputs"][0]["shape"][1]) is float
    assert as_integers(1e20, [()]) == 10**20 and as_integers(True, [()]) is True
    assert as_integers([1.0], [("a",), (3,)]) == [1.0]

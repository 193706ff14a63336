"""The generated contract: the template marks every schema the generator fills in. (That the committed
iris contract is exactly what training writes is checked by running training: tests/live/test_commands.py.)"""

from contract.generate import load_template, model_schema_names


def test_template_marks_every_generated_schema():
    assert model_schema_names(load_template()) == [
        "Row", "NamedRow", "Label", "Value", "ClassName", "Probability", "Probabilities", "Prediction",
        "SeedResponse", "ManifestClasses", "V2ModelReady", "V2ModelMetadata", "V2InputTensor", "V2RequestedOutput",
        "V2OutputTensor", "V2InferenceResponse"]

"""Export a trained run for other runtimes (`textcnn export`): the network as ONNX, with its tokenizer, vocabulary,
labels and a contract beside it.

contract.py: file names, inputs and outputs, the tokenizer description, the folder's README · to_onnx.py: the
probability wrappers, the export and its parity probe · runtime.py: OnnxTextModel / OnnxImageModel, which run an
exported folder with onnxruntime and without torch.
"""

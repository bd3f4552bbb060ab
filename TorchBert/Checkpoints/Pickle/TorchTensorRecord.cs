namespace TorchBert.Checkpoints;

/// <summary>
/// A tensor rebuilt by <c>torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)</c>:
/// element <c>[i0, i1, ...]</c> is storage element <c>StorageOffset + Σ i_k * Stride[k]</c>.
/// </summary>
internal sealed record TorchTensorRecord(TorchStorageRef Storage, long StorageOffset, long[] Size, long[] Stride);

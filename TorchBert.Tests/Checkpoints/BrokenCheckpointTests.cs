using System.Diagnostics;
using TorchBert.Checkpoints;

namespace TorchBert.Tests.Checkpoints;

/// <summary>Malformed files give a <see cref="CheckpointException"/> naming the problem — never another exception or a hang.</summary>
public class BrokenCheckpointTests
{
    private const string F32x2 = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    [Theory]
    [InlineData("{\"a\":" + F32x2 + "}", 8, 1UL << 62, "header length 4611686018427387904 exceeds the file")]
    [InlineData("{\"a\":" + F32x2 + "}", 8, 1000UL, "header length 1000 exceeds the file")]
    [InlineData("{\"a\":" + F32x2 + "}", 8, ulong.MaxValue, "exceeds the file")]
    [InlineData("{\"a\": oops}", 8, null, "invalid JSON")]
    [InlineData("[1, 2]         ", 8, null, "does not start with '{'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, null, "'a' [0, 8] and 'b' [4, 12] overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8, null, "tensor 'a': data_offsets [8, 16] run past the data section (8 bytes)")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, null, "tensor 'a': data_offsets [8, 0] begin after their end")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, null, "tensor 'a': shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, null, "tensor 'a': shape [4294967296, 4294967296] overflows")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, null, "tensor 'a': 'shape' value -2 is negative")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8, null, "'shape' value 1.5 is not a 64-bit integer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8, null, "not a 64-bit integer")]
    [InlineData("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, null, "tensor 'a': unknown dtype 'F8_E4M3'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, null, "tensor 'a': missing array 'data_offsets'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8, null, "'data_offsets' has 3 values")]
    [InlineData("{\"a\":" + F32x2 + ",\"a\":" + F32x2 + "}", 8, null, "names 'a' twice")]
    [InlineData("{\"__metadata__\":{\"n\":1}}", 0, null, "__metadata__ value 'n' is not a string")]
    [InlineData("{\"a\":[1]}", 0, null, "tensor 'a': entry is not a JSON object")]
    public void Bad_safetensors_headers_are_named(string json, int dataLength, ulong? declared, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, CheckpointProbe.SafeTensors(json, dataLength, declared));
        var act = () => SafeTensorsReader.Open(path);
        act.Should().Throw<CheckpointException>().WithMessage($"{path}*{expected}*");
    }

    [Fact]
    public void Zero_element_and_zero_dim_safetensors_tensors_are_fine()
    {
        using var dir = new TempDir();
        string path = dir.File("z.safetensors");
        File.WriteAllBytes(path, CheckpointProbe.SafeTensors(
            "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
            + "\"b\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[4,4]}}", 4));
        CheckpointProbe.OpenAndLoadAll(path).Should().Be(3);
    }

    public static TheoryData<string> Fixtures() => new() { TestFiles.MlmSafeTensors, TestFiles.MlmBin, TestFiles.LegacyBin, TestFiles.GeluNewSafeTensors };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Truncated_fixtures_fail_cleanly_at_every_cut(string fixture)
    {
        byte[] full = File.ReadAllBytes(fixture);
        using var dir = new TempDir();
        string path = dir.File("cut.bin");
        long[] cuts = [0, 1, 2, 7, 8, 9, 64, 200, 4096, full.Length / 3, full.Length / 2, full.Length - 4096, full.Length - 100, full.Length - 22, full.Length - 1];
        foreach (long cut in cuts)
        {
            File.WriteAllBytes(path, full.AsSpan(0, (int)cut).ToArray());
            var act = () => CheckpointProbe.OpenAndLoadAll(path);
            act.Should().Throw<CheckpointException>($"a cut at {cut} of {Path.GetFileName(fixture)}");
        }
    }

    [Fact]
    public void Truncated_pickles_fail_cleanly_at_every_byte()
    {
        var pickle = TorchFiles.StateDictPickle([new("a", "0", 4, 0, [2, 2], [2, 1])], legacy: false);
        for (int cut = 0; cut < pickle.Length; cut++)
        {
            var bytes = pickle[..cut];
            var act = () => RestrictedUnpickler.Load(new PickleInput(new MemoryStream(bytes), bytes.Length, "cut.pkl"), _ => null);
            act.Should().Throw<CheckpointException>().WithMessage("cut.pkl*");
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xff }, "unknown pickle opcode 0xff")]
    [InlineData(new byte[] { (byte)'R', (byte)'.' }, "stack underflow")]
    [InlineData(new byte[] { (byte)'.' }, "stack underflow")]
    [InlineData(new byte[] { (byte)'N', (byte)'(', (byte)'t', (byte)'t' }, "MARK expected")]
    [InlineData(new byte[] { (byte)'N', (byte)'(', (byte)'a' }, "stack underflow")]
    [InlineData(new byte[] { (byte)'h', 7 }, "memo key 7 was never stored")]
    [InlineData(new byte[] { 0x80, 9 }, "unsupported pickle protocol")]
    [InlineData(new byte[] { 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40, (byte)'.' }, "runs past the end of the pickle")]
    [InlineData(new byte[] { (byte)'B', 0xff, 0xff, 0xff, 0xff, (byte)'.' }, "runs past the end of the pickle")]
    [InlineData(new byte[] { 0x8b, 0xff, 0xff, 0xff, 0xff, (byte)'.' }, "negative length")]
    [InlineData(new byte[] { 0x95, 0, 0, 0, 0, 0, 0, 0, 0x80, (byte)'N', (byte)'.' }, "frame longer than the input")]
    [InlineData(new byte[] { (byte)'X', 2, 0, 0, 0, 0xc3, 0x28, (byte)'.' }, "not valid UTF-8")]
    [InlineData(new byte[] { (byte)'N', (byte)'N', (byte)'N' }, "truncated")]
    [InlineData(new byte[] { (byte)'I', (byte)'x', (byte)'\n', (byte)'.' }, "bad integer literal")]
    [InlineData(new byte[] { (byte)'N', (byte)'Q', (byte)'.' }, "persistent ids are not allowed")]
    [InlineData(new byte[] { (byte)'N', (byte)'N', (byte)'s', (byte)'.' }, "stack underflow")]
    [InlineData(new byte[] { (byte)'N', (byte)'N', (byte)'N', (byte)'s', (byte)'.' }, "SETITEM on a None")]
    public void Malformed_pickles_are_refused(byte[] bytes, string expected)
    {
        var act = () => RestrictedUnpickler.Load(new PickleInput(new MemoryStream(bytes), bytes.Length, "m.pkl"));
        act.Should().Throw<CheckpointException>().WithMessage($"m.pkl: *{expected}*");
    }

    [Fact]
    public void Huge_pickle_lengths_fail_fast_without_allocating()
    {
        // 10k nested BINUNICODE8 claims of 2^62 bytes each, in a tiny input: refused at the first one, instantly.
        var bytes = Enumerable.Repeat(new byte[] { 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40 }, 10_000).SelectMany(b => b).ToArray();
        var sw = Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var act = () => RestrictedUnpickler.Load(new PickleInput(new MemoryStream(bytes), bytes.Length, "big.pkl"));
        act.Should().Throw<CheckpointException>();
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(1 << 20);
        sw.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "refused at the first claim (the allocation bound above is the real check); a hang guard");
    }

    [Fact]
    public void Zip_without_the_data_record_names_it()
    {
        using var dir = new TempDir();
        string path = dir.File("nodata.bin");
        TorchFiles.WriteZip(path, TorchFiles.StateDictPickle([new("w", "5", 2, 0, [2], [1])], legacy: false), []);
        var act = () => TorchZipReader.Open(path);
        act.Should().Throw<CheckpointException>().WithMessage("*storage '5' has no record 'archive/data/5'*");
    }

    [Theory]
    [InlineData(4, 2, 1, "record 'archive/data/0' has 8 bytes, storage '0' needs 16")]
    [InlineData(2, 3, 1, "tensor 'w': view (offset 0, size [3], stride [1]) reaches element 2 of storage '0' which has 2")]
    [InlineData(2, 2, 2, "reaches element 2")]
    public void Zip_tensors_outside_their_storage_are_refused(long numel, long size, long stride, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File("short.bin");
        TorchFiles.WriteZip(path, TorchFiles.StateDictPickle([new("w", "0", numel, 0, [size], [stride])], legacy: false),
            [("0", TorchFiles.Floats(1, 2))]);
        var act = () => CheckpointProbe.OpenAndLoadAll(path);
        act.Should().Throw<CheckpointException>().WithMessage($"*{expected}*");
    }

    [Fact]
    public void Hostile_stride_zero_view_larger_than_the_file_is_refused()
    {
        using var dir = new TempDir();
        string path = dir.File("expand.bin");
        TorchFiles.WriteZip(path, TorchFiles.StateDictPickle([new("w", "0", 1, 0, [1L << 40, 1L << 20], [0, 0])], legacy: false),
            [("0", TorchFiles.Floats(1))]);
        var act = () => CheckpointProbe.OpenAndLoadAll(path);
        act.Should().Throw<CheckpointException>().WithMessage("*more than the file holds*");
    }

    [Fact]
    public void Zip_without_data_pkl_or_with_big_endian_byteorder_is_refused()
    {
        using var dir = new TempDir();
        string path = dir.File("x.zip");
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
            zip.CreateEntry("readme.txt");
        var act = () => CheckpointFiles.Open(path);
        act.Should().Throw<CheckpointException>().WithMessage("*no '<folder>/data.pkl' record*");

        string be = dir.File("be.bin");
        TorchFiles.WriteZip(be, TorchFiles.StateDictPickle([], legacy: false), []);
        using (var zip = System.IO.Compression.ZipFile.Open(be, System.IO.Compression.ZipArchiveMode.Update))
        using (var s = zip.CreateEntry("archive/byteorder").Open())
            s.Write("big"u8);
        var act2 = () => CheckpointFiles.Open(be);
        act2.Should().Throw<CheckpointException>().WithMessage("*byteorder is 'big'*");
    }

    [Theory]
    [InlineData("magic", "bad magic number")]
    [InlineData("big-endian", "big-endian legacy checkpoints are not supported")]
    [InlineData("count", "storage '0' has 3 elements in the file but 2 in the pickle")]
    [InlineData("unlisted", "storage '0' has no data")]
    [InlineData("short", "runs past the end of the file")]
    public void Broken_legacy_files_are_named(string what, string expected)
    {
        var pickle = TorchFiles.StateDictPickle([new("w", "0", 2, 0, [2], [1])], legacy: true);
        byte[] bytes = what switch
        {
            "magic" => [.. new PickleBuilder().Proto().Int(12345).Stop().ToArray(), .. TorchFiles.Legacy(pickle, [("0", TorchFiles.Floats(1, 2), 4)])[15..]],
            "big-endian" => TorchFiles.Legacy(pickle, [("0", TorchFiles.Floats(1, 2), 4)], littleEndian: false),
            "count" => TorchFiles.Legacy(pickle, [("0", TorchFiles.Floats(1, 2, 3), 4)]),
            "unlisted" => TorchFiles.Legacy(pickle, []),
            "short" => TorchFiles.Legacy(pickle, [("0", TorchFiles.Floats(1, 2), 4)])[..^1],
            _ => throw new ArgumentException(what),
        };
        using var dir = new TempDir();
        string path = dir.File("legacy.bin");
        File.WriteAllBytes(path, bytes);
        var act = () => CheckpointProbe.OpenAndLoadAll(path);
        act.Should().Throw<CheckpointException>().WithMessage($"{path}*{expected}*");
    }

    [Fact]
    public void Missing_files_and_folders_are_checkpoint_errors()
    {
        var a1 = () => CheckpointFiles.Open("/nonexistent/model.safetensors");
        a1.Should().Throw<CheckpointException>().WithMessage("*/nonexistent/model.safetensors*");
        var a2 = () => SafeTensorsReader.Open("/nonexistent/model.safetensors");
        a2.Should().Throw<CheckpointException>();
        var a3 = () => CheckpointFiles.OpenFolder("/nonexistent");
        a3.Should().Throw<CheckpointException>().WithMessage("*not a directory*");
    }
}

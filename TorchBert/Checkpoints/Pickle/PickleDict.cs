namespace TorchBert.Checkpoints;

/// <summary>
/// An unpickled dict or <c>collections.OrderedDict</c>, keeping insertion order. String keys replace earlier values
/// as in Python; other keys are only kept in order (a state dict has string keys).
/// </summary>
internal sealed class PickleDict
{
    private readonly List<KeyValuePair<object?, object?>> _items = [];
    private readonly Dictionary<string, int> _stringKeys = new(StringComparer.Ordinal);

    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;
    public int Count => _items.Count;

    public void Set(object? key, object? value)
    {
        if (key is string s)
        {
            if (_stringKeys.TryGetValue(s, out int i)) { _items[i] = new(key, value); return; }
            _stringKeys[s] = _items.Count;
        }
        _items.Add(new(key, value));
    }

    public bool TryGet(string key, out object? value)
    {
        bool found = _stringKeys.TryGetValue(key, out int i);
        value = found ? _items[i].Value : null;
        return found;
    }
}

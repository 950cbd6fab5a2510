from core.sensitive import blind_index, decrypt, encrypt, mask


def test_encryption_round_trip_and_not_plain():
    token = encrypt("110105199001010023")
    assert "110105" not in token and decrypt(token) == "110105199001010023"
    assert encrypt("110105199001010023") != token  # randomized: equal values do not show


def test_blind_index_finds_equal_values_only():
    a = blind_index("11010519900101002x", scope="ric")
    assert a == blind_index(" 11010519900101002X ", scope="ric")
    assert a != blind_index("110105199001010031", scope="ric")
    assert a != blind_index("11010519900101002X", scope="uscc")


def test_mask():
    assert mask("11010519900101002X") == "110105********002X"
    assert mask("123") == "***"
    assert mask("") == ""

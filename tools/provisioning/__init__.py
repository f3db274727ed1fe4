"""The parts of tools/provision.py, one job each:

    device.py     the device as its hall-config table; the device vocabulary (the agent's)
    hall_file.py  the hall file read, checked (the agent's port rule and config loader), replaced
    toml_edit.py  edits that keep every other byte of the file
    board.py      the board's config.json, glyph files and firmware files
    mpremote.py   the copy to the board
"""

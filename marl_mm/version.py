"""The version of marl_mm."""
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Turn ``'1.2.3'`` into ``(1, 2, 3)``; a suffix such as ``rc1`` stays a string."""
    parts = []
    for x in version_str.split('.'):
        parts.append(int(x) if x.isdigit() else x)
    return tuple(parts)


version_info = parse_version_info(__version__)

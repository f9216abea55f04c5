"""Value types and immutable records: money, instruments, fills, reasons."""

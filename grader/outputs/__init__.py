"""What grade writes: reports, summary, exports, the resume cache, atomic files."""

"""The law of category-1 qualification (第1号被保険者の資格), free of I/O."""

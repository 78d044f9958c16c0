extension String {
    /// The text in word-sized pieces, each but the first with its leading space, so that joined they
    /// give the text back: how the mock streams and how a cached answer is replayed.
    public var wordPieces: [String] {
        var pieces: [String] = []
        var piece = ""
        for character in self {
            if character == " ", !piece.isEmpty, piece != " " {
                pieces.append(piece)
                piece = ""
            }
            piece.append(character)
        }
        if !piece.isEmpty { pieces.append(piece) }
        return pieces
    }
}
